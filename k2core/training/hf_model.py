"""The embedded Gemma 3 270M as a trainable transformers model: dequantized from the GGUF to fp32 once,
cached with ``save_pretrained`` under the cache dir, loaded with LoRA adapters (or fully trainable)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from k2core.config import Settings
from k2core.models import ensure_embedded_model
from k2core.training.chat import GEMMA_CHAT_TEMPLATE
from k2core.training.config import LoraConfig

_NORMAL, _CONTROL, _USER_DEFINED = 1, 3, 4
CACHE_SUBDIR = "hf/gemma-3-270m-fp32"


def gguf_tokenizer(gguf_path: Path) -> Any:
    """A Gemma tokenizer that splits text as llama.cpp does: BPE merges ranked by the GGUF's piece scores.

    transformers' own GGUF conversion treats Gemma's scores as unigram log-probabilities, which fragments
    words ("world" -> "w", "or", "ld"); Gemma's SentencePiece model is BPE, so the merges are rebuilt here.
    """
    from gguf import GGUFReader
    from tokenizers import AddedToken
    from transformers import GemmaTokenizer

    reader = GGUFReader(str(gguf_path))

    def field(name: str) -> list[Any]:
        entry = reader.fields[name]
        return [entry.parts[i] for i in entry.data]

    pieces = [bytes(p).decode("utf-8") for p in field("tokenizer.ggml.tokens")]
    scores = [float(p[0]) for p in field("tokenizer.ggml.scores")]
    types = [int(p[0]) for p in field("tokenizer.ggml.token_type")]
    vocab = {piece: index for index, piece in enumerate(pieces)}
    tokenizer = GemmaTokenizer(vocab=vocab, merges=_merges(pieces, scores, types, vocab))
    # As in llama.cpp: control tokens are special, user-defined ones (newline and space runs) match raw text.
    tokenizer.add_tokens(
        [AddedToken(p, special=True, normalized=False) for p, t in zip(pieces, types) if t == _CONTROL],
        special_tokens=True,
    )
    tokenizer.add_tokens([AddedToken(p, normalized=False) for p, t in zip(pieces, types) if t == _USER_DEFINED])
    tokenizer.chat_template = GEMMA_CHAT_TEMPLATE
    return tokenizer


def _merges(pieces: list[str], scores: list[float], types: list[int], vocab: dict[str, int]) -> list[tuple[str, str]]:
    """Every split of a normal piece into two pieces, ranked by the merged piece's score (SentencePiece BPE)."""
    ranked = []
    for index, piece in enumerate(pieces):
        if types[index] != _NORMAL:
            continue
        for cut in range(1, len(piece)):
            left, right = piece[:cut], piece[cut:]
            if left in vocab and right in vocab:
                ranked.append((-scores[index], vocab[left], vocab[right], left, right))
    ranked.sort()
    return [(left, right) for *_, left, right in ranked]


def ensure_hf_model(settings: Settings | None = None) -> Path:
    """The fp32 transformers copy of the embedded GGUF under ``<cache_dir>/hf/``, converted on first use."""
    settings = settings or Settings()
    target = Path(settings.cache_dir).expanduser() / CACHE_SUBDIR
    if _converted(target):
        return target
    import torch
    from transformers import AutoModelForCausalLM

    gguf = ensure_embedded_model(settings)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
        model.save_pretrained(tmp)
        gguf_tokenizer(gguf).save_pretrained(tmp)
        shutil.rmtree(target, ignore_errors=True)
        try:
            os.replace(tmp, target)
        except OSError:
            if not _converted(target):  # another process finished the same conversion first
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _converted(folder: Path) -> bool:
    return (folder / "config.json").is_file() and (folder / "tokenizer.json").is_file()


def load_tokenizer(model_dir: Path) -> Any:
    """The cached tokenizer, left-padding for batched generation."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    tokenizer.padding_side = "left"
    return tokenizer


def load_policy(model_dir: Path, lora: LoraConfig) -> Any:
    """The fp32 model with LoRA adapters (only they train) or, when LoRA is off, every weight trainable."""
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    if not lora.enabled:
        return model
    from peft import LoraConfig as PeftLoraConfig
    from peft import get_peft_model

    adapter = PeftLoraConfig(
        r=lora.rank, lora_alpha=lora.alpha, target_modules=list(lora.target_modules), lora_dropout=0.0
    )
    return get_peft_model(model, adapter)


def trainable_state(model: Any) -> dict[str, Any]:
    """The weights that train (adapters, or all of them), detached copies keyed by parameter name."""
    return {name: p.detach().clone() for name, p in model.named_parameters() if p.requires_grad}


def load_trainable_state(model: Any, state: dict[str, Any]) -> None:
    """Copy trained weights into a model built the same way; an unknown name is a KeyError."""
    params = dict(model.named_parameters())
    unknown = set(state) - set(params)
    if unknown:
        raise KeyError(f"unknown parameters in state: {sorted(unknown)[:3]}")
    import torch

    with torch.no_grad():
        for name, value in state.items():
            params[name].copy_(value)
