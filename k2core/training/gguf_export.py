"""A trained transformers model back to a GGUF the embedded engine loads: the base GGUF's metadata (tokenizer,
chat template, hyper-parameters) with the new weights under llama.cpp's tensor names (the ``gguf`` package), then
llama.cpp's own quantizer (through llama-cpp-python) to the base file's Q4_K_M or another type."""

from __future__ import annotations

import ctypes
import os
from pathlib import Path
from typing import Any

QUANT_TYPES: dict[str, str] = {"f16": "LLAMA_FTYPE_MOSTLY_F16", "q8_0": "LLAMA_FTYPE_MOSTLY_Q8_0",
                               "q4_k_m": "LLAMA_FTYPE_MOSTLY_Q4_K_M"}  # fmt: skip
_F16_FILE_TYPE = 1
_SKIPPED_KEYS = ("GGUF.", "general.architecture", "general.file_type", "general.name")


def _copy_metadata(reader: Any, writer: Any, name: str) -> None:
    """Every key-value field of the base file except the ones that describe its tensors or name it."""
    from gguf import GGUFValueType

    for key, field in reader.fields.items():
        if key.startswith(_SKIPPED_KEYS):
            continue
        vtype = field.types[0]
        sub_type = field.types[-1] if vtype == GGUFValueType.ARRAY else None
        writer.add_key_value(key, field.contents(), vtype, sub_type=sub_type)
    writer.add_name(name)
    writer.add_file_type(_F16_FILE_TYPE)


def write_f16_gguf(state: dict[str, Any], base_gguf: Path, out: Path, name: str) -> Path:
    """Write ``state`` (a transformers state dict) as an F16 GGUF (1-D tensors stay F32) with ``base_gguf``'s
    metadata; every tensor of the base file must be present with the same shape."""
    import numpy as np
    from gguf import MODEL_ARCH_NAMES, GGUFReader, GGUFWriter, get_tensor_name_map

    reader = GGUFReader(str(base_gguf))
    arch_name = reader.fields["general.architecture"].contents()
    arch = next(a for a, n in MODEL_ARCH_NAMES.items() if n == arch_name)
    blocks = int(reader.fields[f"{arch_name}.block_count"].contents())
    names = get_tensor_name_map(arch, blocks)
    expected = {t.name: tuple(int(d) for d in reversed(t.shape)) for t in reader.tensors}
    tensors: dict[str, np.ndarray] = {}
    for hf_name, tensor in state.items():
        gguf_name = names.get_name(hf_name, try_suffixes=(".weight", ".bias"))
        if gguf_name is None:
            raise ValueError(f"tensor {hf_name!r} has no {arch_name} GGUF name")
        array = tensor.detach().float().numpy()
        tensors[gguf_name] = array.astype(np.float16) if array.ndim > 1 else array.astype(np.float32)
    wrong = {n: (expected.get(n), tensors[n].shape) for n in tensors if expected.get(n) != tensors[n].shape}
    missing = set(expected) - set(tensors)
    if wrong or missing:
        raise ValueError(f"weights do not match {base_gguf.name}: missing {sorted(missing)[:3]}, shapes {wrong}")
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    writer = GGUFWriter(str(tmp), arch_name)
    try:
        _copy_metadata(reader, writer, name)
        for gguf_name in expected:  # the base file's tensor order
            writer.add_tensor(gguf_name, tensors[gguf_name])
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


def quantize(source: Path, out: Path, quant: str, threads: int) -> Path:
    """``source`` quantized by llama.cpp to ``quant`` (a key of QUANT_TYPES) as ``out``, written atomically."""
    import llama_cpp

    if quant not in QUANT_TYPES:
        raise ValueError(f"quant: expected one of {', '.join(QUANT_TYPES)}, got {quant!r}")
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = getattr(llama_cpp, QUANT_TYPES[quant])
    params.nthread = threads
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        if llama_cpp.llama_model_quantize(str(source).encode(), str(tmp).encode(), ctypes.byref(params)) != 0:
            raise RuntimeError(f"llama.cpp could not quantize {source} to {quant}")
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out
