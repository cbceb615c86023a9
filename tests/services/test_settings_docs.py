"""The settings tables in README.md and the chart's README come from the settings' descriptions and are fresh."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from services import settings_docs
from services.settings import ServerSettings, ServiceSettings


def test_readme_and_chart_tables_are_fresh() -> None:
    stale = [str(p.relative_to(settings_docs.REPO)) for p in settings_docs.stale()]
    assert not stale, f"settings tables are stale in {', '.join(stale)}: run `make docs`"


@pytest.mark.parametrize("model", [ServerSettings, ServiceSettings], ids=lambda m: m.__name__)
def test_every_service_setting_has_a_description(model: type[BaseModel]) -> None:
    missing = [name for name, field in model.model_fields.items() if not (field.description or "").strip()]
    assert not missing, f"{model.__name__} fields without a description: {missing}"


def test_the_readme_lists_every_env_var_once_with_its_description() -> None:
    settings = {s.env: s for s in settings_docs.walk()}
    assert len(settings) == len(list(settings_docs.walk()))
    assert {"K2_SERVER__AUTH_TOKEN_FILE", "K2_<ROLE>__VLLM__ENGINE_KWARGS", "K2_SANDBOX__TIMEOUT_S"} <= settings.keys()
    quantisation = settings["K2_<ROLE>__EMBEDDED__QUANTISATION"]
    assert (quantisation.type, quantisation.default) == ("q4_k_m, q4_0, q8_0", "q4_k_m")
    assert settings["K2_CACHE_DIR"].default == "computed"  # machine-dependent defaults are not written down
    assert settings["K2_SERVER__SOLVER_ADDRESSES"].default == '["127.0.0.1:50053"]'
    table = settings_docs.readme_table()
    for s in settings.values():
        assert f"| `{s.env}` |" in table and s.description.split(";")[0] in table


def test_the_chart_table_covers_every_value_the_chart_passes_through() -> None:
    pairs = dict(settings_docs.chart_pairs())
    assert pairs["pipeline.earlyMajority"] == "pipeline.early_majority"
    assert pairs["<ROLE>.vllm.engineKwargs"] == "<ROLE>.vllm.engine_kwargs"
    assert pairs["<ROLE>.embedded.prefixReuse"] == "<ROLE>.embedded.prefix_reuse"
    assert pairs["<ROLE>.vllm.speculative.numSpeculativeTokens"] == "<ROLE>.vllm.speculative.num_speculative_tokens"
    assert not any(key.endswith(("existingSecret", "secretKey")) for key in pairs)  # mounted files, not settings
    table = settings_docs.chart_table()
    assert "| `solver.vllm.maxModelLen` |" not in table and "| `<ROLE>.vllm.maxModelLen` |" in table
    assert "| `pipeline.n` | `K2_PIPELINE__N` | int | `3` |" in table


def test_a_chart_value_that_is_no_setting_fails_the_rendering(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(settings_docs.DIRECT, "server.drainS", "server.drain_s")
    with pytest.raises(KeyError, match="server.drainS"):
        settings_docs.chart_table()


def test_missing_markers_name_the_file() -> None:
    with pytest.raises(ValueError, match="README.md: no"):
        settings_docs.replace_section("# no markers here\n", "table", "README.md")
    text = f"a\n{settings_docs.BEGIN}\nold\n{settings_docs.END}\nb\n"
    assert settings_docs.replace_section(text, "new", "x") == f"a\n{settings_docs.BEGIN}\nnew\n{settings_docs.END}\nb\n"
