"""Compute precision of the local (CPU) runs: bfloat16 matmuls where the CPU has them natively, fp32 elsewhere.

In bf16 the frozen weights are stored in bfloat16 and the forward runs under CPU autocast, while the weights that
train (LoRA adapters) and the optimizer state stay fp32 and logits are taken back to fp32 before any
log-probability — the usual mixed-precision recipe. On AVX512-BF16 or AMX CPUs a bf16 matmul runs about three
times as fast as fp32; without native support autocast would emulate it, so ``auto`` keeps fp32 there.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any, Literal

Precision = Literal["auto", "fp32", "bf16"]  # as a job file names it
Resolved = Literal["fp32", "bf16"]  # as a run uses it


def native_bf16() -> bool:
    """Whether this CPU multiplies bfloat16 natively (AVX512-BF16 or AMX tiles)."""
    import torch

    probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(bool(getattr(torch.cpu, probe, lambda: False)()) for probe in probes)


def resolve(precision: Precision) -> Resolved:
    """``auto`` made concrete for this CPU; ``fp32`` and ``bf16`` as given."""
    if precision == "auto":
        return "bf16" if native_bf16() else "fp32"
    return precision


def torch_dtype(precision: Resolved) -> Any:
    """The torch dtype of a resolved precision."""
    import torch

    return torch.bfloat16 if precision == "bf16" else torch.float32


@contextlib.contextmanager
def compute(precision: Resolved) -> Iterator[None]:
    """Run forward passes in ``precision``: CPU autocast to bfloat16, or nothing for fp32."""
    import torch

    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
        yield


def lower_frozen(model: Any, precision: Resolved) -> Any:
    """Store the weights that do not train in ``precision`` (halving their memory and the casts autocast would
    otherwise repeat on every call); trainable weights keep fp32. Returns ``model``."""
    if precision == "fp32":
        return model
    dtype = torch_dtype(precision)
    for param in model.parameters():
        if not param.requires_grad:
            param.data = param.data.to(dtype)
    return model
