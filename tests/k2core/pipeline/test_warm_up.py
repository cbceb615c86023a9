"""The pipeline loads its default grader before the first request."""

from __future__ import annotations

from k2core.config import Settings
from k2core.pipeline import Pipeline
from k2core.verify import get_grader


def test_warm_up_loads_the_default_domain_grader() -> None:
    get_grader.cache_clear()
    settings = Settings()
    Pipeline(planner=None, solver=None, judge=None, settings=settings).warm_up()  # type: ignore[arg-type]
    assert get_grader.cache_info().currsize == 1
