"""Published figures of the default model, to check the harness against before trusting it."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Published", "published_figure"]


@dataclass(frozen=True)
class Published:
    """A figure a model's authors report: value in percent, the protocol and where it is printed."""

    value: float
    protocol: str
    source: str


_FIGURES: dict[tuple[str, str], Published] = {
    ("qwen2.5-coder-0.5b-instruct", "humaneval"): Published(
        61.6,
        "greedy pass@1, bf16 weights, the authors' own prompt",
        "Qwen2.5-Coder Technical Report (arXiv 2409.12186), instruct-model code generation table",
    ),
}


def published_figure(model: str, dataset: str) -> Published | None:
    """The published figure for ``model`` on ``dataset``, when its authors report one."""
    return _FIGURES.get((model, dataset))
