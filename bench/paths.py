"""Where the benches write: ``bench/results`` (and the README's table) in a source checkout; ``./bench-results``
under the working directory when ``bench`` runs from an installed wheel, never inside site-packages."""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
CHECKOUT: Path | None = PACKAGE.parent if (PACKAGE.parent / "pyproject.toml").is_file() else None
RESULTS = PACKAGE / "results" if CHECKOUT is not None else Path.cwd() / "bench-results"
README: Path | None = CHECKOUT / "README.md" if CHECKOUT is not None else None
