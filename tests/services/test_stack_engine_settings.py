"""A dedicated planner or judge process gets one embedded KV slot; the solver and explicit settings keep theirs."""

from __future__ import annotations

import pytest

from services.settings import ServiceSettings
from services.stack import service_engine_settings


@pytest.mark.parametrize("role", ["planner", "judge"])
def test_planner_and_judge_processes_default_to_one_slot(role: str) -> None:
    settings = ServiceSettings()
    assert service_engine_settings(role, settings).embedded.max_sequences == 1
    assert (
        getattr(settings, role).embedded.max_sequences == 4
    )  # the settings (shared in process) stay


def test_solver_keeps_its_slots() -> None:
    assert service_engine_settings("solver", ServiceSettings()).embedded.max_sequences == 4


def test_an_explicit_slot_count_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("K2_JUDGE__EMBEDDED__MAX_SEQUENCES", "4")
    monkeypatch.setenv("K2_PLANNER__EMBEDDED__N_CTX", "4096")
    settings = ServiceSettings()
    assert service_engine_settings("judge", settings).embedded.max_sequences == 4
    planner = service_engine_settings("planner", settings).embedded
    assert (planner.max_sequences, planner.n_ctx) == (1, 4096)


def test_stack_children_hold_malloc_to_two_arenas_unless_set(monkeypatch: pytest.MonkeyPatch) -> None:
    from services.stack import LocalStack

    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    assert LocalStack(ServiceSettings())._env()["MALLOC_ARENA_MAX"] == "2"
    monkeypatch.setenv("MALLOC_ARENA_MAX", "8")
    assert LocalStack(ServiceSettings())._env()["MALLOC_ARENA_MAX"] == "8"
