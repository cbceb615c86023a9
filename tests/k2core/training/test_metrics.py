"""Metrics: JSONL per step, restart after a resume, a PNG curve, and the thirds check."""

from __future__ import annotations

from k2core.training.local_run import take
from k2core.training.metrics import MetricsLog, plot_curve, thirds


def test_log_restarts_after_the_restored_step(tmp_path):
    log = MetricsLog(tmp_path / "m" / "metrics.jsonl")
    for step in (1, 2, 3):
        log.append({"step": step, "loss": 1.0 / step})
    log.restart_after(2)
    log.append({"step": 3, "loss": 0.1})
    assert [r["step"] for r in log.records()] == [1, 2, 3]
    png = plot_curve(log.records(), ["loss"], tmp_path / "curve.png", "t")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_thirds():
    assert thirds([0, 0, 1, 1, 2, 2]) == (0, 2)
    assert thirds([5.0]) == (5.0, 5.0)


def test_data_order_is_a_pure_function_of_position():
    stream = take(5, 0, 12, seed=3)
    assert sorted(stream[:5]) == list(range(5)) and sorted(stream[5:10]) == list(range(5))
    assert take(5, 7, 5, seed=3) == stream[7:12]
    assert take(5, 0, 5, seed=4) != stream[:5]
