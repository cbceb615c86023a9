"""The vLLM engine: speculative config, engine args and request mapping on CPU; a real run on a GPU."""

from __future__ import annotations

import dataclasses
import importlib.util
import os

import pydantic
import pytest

from k2core.config import EngineSettings, Settings, SpeculativeSettings, VllmSettings
from k2core.engines.vllm import (
    VllmEngine,
    build_engine_args,
    build_speculative_config,
    check_engine_kwargs,
    engine_arg_names,
    output_logprobs,
    sampling_kwargs,
)
from k2core.errors import EngineError, ValidationError
from k2core.types import Message, SamplingParams


def with_spec(**spec: object) -> EngineSettings:
    return EngineSettings(engine="vllm", model="target", vllm=VllmSettings(speculative=SpeculativeSettings(**spec)))


def test_no_method_means_no_speculation() -> None:
    assert build_speculative_config(EngineSettings(engine="vllm")) is None
    assert "speculative_config" not in build_engine_args(EngineSettings(engine="vllm"))


def test_ngram_is_prompt_lookup_with_its_window() -> None:
    config = build_speculative_config(with_spec(method="ngram", num_speculative_tokens=5, prompt_lookup_max=4))
    assert config == {"method": "ngram", "num_speculative_tokens": 5, "prompt_lookup_min": 2, "prompt_lookup_max": 4}


@pytest.mark.parametrize("method", ["draft_model", "eagle", "eagle3"])
def test_model_based_methods_carry_the_draft_model(method: str) -> None:
    config = build_speculative_config(with_spec(method=method, model="drafter", draft_tensor_parallel_size=1))
    assert config == {"method": method, "num_speculative_tokens": 4, "model": "drafter", "draft_tensor_parallel_size": 1}


@pytest.mark.parametrize("method", ["draft_model", "eagle", "eagle3"])
def test_model_based_methods_without_a_model_name_the_field(method: str) -> None:
    with pytest.raises(ValidationError) as info:
        build_speculative_config(with_spec(method=method))
    assert info.value.field == "vllm.speculative.model"


def test_mtp_and_suffix_need_no_draft_model() -> None:
    assert build_speculative_config(with_spec(method="mtp", num_speculative_tokens=1)) == {
        "method": "mtp", "num_speculative_tokens": 1,
    }
    assert build_speculative_config(with_spec(method="suffix", num_speculative_tokens=16, model="ignored")) == {
        "method": "suffix", "num_speculative_tokens": 16,
    }


def test_engine_args_carry_parallelism_length_and_speculation() -> None:
    settings = with_spec(method="ngram")
    settings.vllm.tensor_parallel_size = 4
    settings.vllm.max_model_len = 65536
    args = build_engine_args(settings)
    assert args["model"] == "target" and args["tensor_parallel_size"] == 4 and args["max_model_len"] == 65536
    assert args["speculative_config"]["method"] == "ngram" and args["disable_log_stats"] is False


def test_engine_kwargs_pass_through_next_to_what_k2think_sets() -> None:
    settings = with_spec(method="ngram")
    settings.vllm.engine_kwargs = {"gpu_memory_utilization": 0.35, "enforce_eager": True, "max_num_seqs": 8}
    args = build_engine_args(settings)
    assert args["gpu_memory_utilization"] == 0.35 and args["enforce_eager"] is True and args["max_num_seqs"] == 8
    assert args["model"] == "target" and args["max_model_len"] == 65536 and "speculative_config" in args


def test_engine_kwargs_come_from_json_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("K2_SOLVER__ENGINE", "vllm")
    monkeypatch.setenv("K2_SOLVER__VLLM__ENGINE_KWARGS", '{"enable_prefix_caching": true, "max_num_seqs": 16}')
    args = build_engine_args(Settings().solver)
    assert args["enable_prefix_caching"] is True and args["max_num_seqs"] == 16


@pytest.mark.parametrize("owned", ["model", "max_model_len", "tensor_parallel_size", "speculative_config"])
def test_engine_kwargs_may_not_set_what_k2think_owns(owned: str) -> None:
    with pytest.raises(pydantic.ValidationError, match=f"engine_kwargs.{owned}"):
        VllmSettings(engine_kwargs={owned: 1})


def test_unknown_engine_kwargs_name_the_field() -> None:
    known = {"gpu_memory_utilization", "enforce_eager"}
    check_engine_kwargs({"gpu_memory_utilization": 0.5}, known)
    with pytest.raises(ValidationError) as info:
        check_engine_kwargs({"gpu_memory_utilisation": 0.5, "enforce_eager": True}, known)
    assert info.value.field == "vllm.engine_kwargs.gpu_memory_utilisation"
    settings = EngineSettings(engine="vllm", vllm=VllmSettings(engine_kwargs={"gpu_memory_utilisation": 0.5}))
    with pytest.raises(ValidationError):
        build_engine_args(settings, known)
    check_engine_kwargs({"anything": 1}, None)  # without vLLM installed there is nothing to check against


@pytest.mark.skipif(importlib.util.find_spec("vllm") is None, reason="needs the [gpu] extra")
def test_installed_vllm_knows_the_args_the_chart_documents() -> None:
    names = engine_arg_names()
    assert names is not None and {"gpu_memory_utilization", "enforce_eager", "dtype", "max_num_seqs"} <= names
    with pytest.raises(ValidationError, match="engine_kwargs.no_such_arg"):
        VllmEngine(EngineSettings(engine="vllm", vllm=VllmSettings(engine_kwargs={"no_such_arg": 1})))


def test_sampling_params_map_seed_n_stop_and_json_schema() -> None:
    schema = {"type": "object", "properties": {"winner": {"enum": ["A", "B"]}}}
    params = SamplingParams(temperature=1.0, top_p=0.95, max_tokens=64, seed=7, stop=["</s>"], json_schema=schema)
    assert sampling_kwargs(params, 3) == {
        "n": 3, "temperature": 1.0, "top_p": 0.95, "max_tokens": 64, "seed": 7, "stop": ["</s>"],
        "structured_outputs": {"json": schema},
    }
    plain = sampling_kwargs(SamplingParams(temperature=0), 1)
    assert plain["stop"] is None and plain["seed"] is None and "structured_outputs" not in plain


def test_engine_reports_its_context_and_rejects_bad_speculation_at_construction() -> None:
    assert VllmEngine(with_spec(method="ngram")).context_tokens == 65536
    with pytest.raises(ValidationError):
        VllmEngine(with_spec(method="eagle"))


@pytest.mark.skipif(importlib.util.find_spec("vllm") is not None, reason="vllm is installed")
async def test_without_vllm_loading_is_a_clear_error() -> None:
    engine = VllmEngine(EngineSettings(engine="vllm"))
    with pytest.raises(EngineError, match=r"\[gpu\] extra") as info:
        await engine.generate([Message(role="user", content="hi")], SamplingParams())
    assert not info.value.retryable


def _cuda() -> bool:
    if importlib.util.find_spec("vllm") is None or importlib.util.find_spec("torch") is None:
        return False
    import torch

    return torch.cuda.is_available()


@pytest.mark.gpu
@pytest.mark.skipif(not _cuda(), reason="needs CUDA and the [gpu] extra")
async def test_speculation_keeps_greedy_text_and_reports_acceptance() -> None:
    model = os.environ.get("K2_TEST_VLLM_MODEL", "Qwen/Qwen2.5-0.5B-Instruct")
    code = "def add(a, b):\n    return a + b\n\ndef sub(a, b):\n    return a - b\n"
    messages = [Message(role="user", content=f"Repeat this code exactly:\n\n{code}")]
    params = SamplingParams(temperature=0, max_tokens=64)
    texts = {}
    for method in (None, "ngram"):
        settings = with_spec(method=method, num_speculative_tokens=4, prompt_lookup_min=2, prompt_lookup_max=4)
        settings.model = model
        settings.vllm.max_model_len = 2048
        settings.vllm.engine_kwargs = {"gpu_memory_utilization": 0.35, "enforce_eager": True}
        engine = VllmEngine(settings)
        [completion] = await engine.generate(messages, params)
        texts[method] = completion.text
        if method:
            assert completion.spec_decode is not None and completion.spec_decode.draft_tokens > 0
        await engine.close()
    assert texts[None] == texts["ngram"]


def test_top_logprobs_map_to_vllms_logprobs_and_back() -> None:
    assert sampling_kwargs(SamplingParams(top_logprobs=5), 1)["logprobs"] == 5
    assert "logprobs" not in sampling_kwargs(SamplingParams(), 1)

    @dataclasses.dataclass
    class Logprob:  # vLLM's per-token entry: logprob, rank, decoded_token
        logprob: float
        rank: int
        decoded_token: str | None

    steps = [{7: Logprob(-0.1, 1, "A"), 8: Logprob(-2.5, 2, "B")}, {9: Logprob(-3.0, 3, '"'), 1: Logprob(-0.2, 1, ",")}]
    mapped = output_logprobs([7, 9], steps)
    assert mapped is not None and [m.token for m in mapped] == ["A", '"']
    assert mapped[0].top == {"A": -0.1, "B": -2.5} and mapped[1].logprob == -3.0
    assert list(mapped[1].top) == [",", '"']  # most likely first, the sampled token kept
    assert output_logprobs([7], None) is None
