"""The embedded model (Qwen2.5-Coder-0.5B-Instruct) as a trainable transformers model: dequantized from the GGUF
to fp32 once by transformers' own GGUF loader, cached with ``save_pretrained`` under the cache dir together with
the GGUF's tokenizer and chat template, loaded with LoRA adapters (or fully trainable)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from k2core.config import Settings
from k2core.models import DEFAULT_MODEL, ensure_embedded_model
from k2core.training.config import LoraConfig
from k2core.training.precision import Resolved, lower_frozen

EMBEDDED = "embedded"
CACHE_SUBDIR = f"hf/{DEFAULT_MODEL.label}-fp32"


def gguf_tokenizer(gguf_path: Path) -> Any:
    """The GGUF's tokenizer as transformers builds it (byte-level BPE from the file's vocabulary and merges, the
    file's chat template), with end-of-sequence and padding set to the tokens llama.cpp uses."""
    from gguf import GGUFReader
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)
    fields = GGUFReader(str(gguf_path)).fields
    special = (("eos_token", "tokenizer.ggml.eos_token_id"), ("pad_token", "tokenizer.ggml.padding_token_id"))
    for attribute, key in special:
        if key in fields:
            setattr(tokenizer, attribute, tokenizer.convert_ids_to_tokens(int(fields[key].contents())))
    if not tokenizer.chat_template:
        raise ValueError(f"{gguf_path}: the GGUF carries no tokenizer.chat_template")
    return tokenizer


def ensure_hf_model(settings: Settings) -> Path:
    """The fp32 transformers copy of the embedded GGUF under ``settings.cache_dir``/hf/, converted on first use."""
    target = Path(settings.cache_dir).expanduser() / CACHE_SUBDIR
    if _converted(target):
        return target
    import torch
    from transformers import AutoModelForCausalLM

    gguf = ensure_embedded_model(settings)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tokenizer = gguf_tokenizer(gguf)
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
        # Generation stops on every end token llama.cpp stops on: end of turn and end of text.
        model.generation_config.eos_token_id = sorted({tokenizer.eos_token_id, tokenizer.pad_token_id})
        model.generation_config.pad_token_id = tokenizer.pad_token_id
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
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


def resolve_model_dir(model: str, settings: Settings) -> Path:
    """The HF folder a local run starts from: ``embedded`` (the default converted under ``settings.cache_dir``) or
    a folder (an SFT output)."""
    if model == EMBEDDED:
        return ensure_hf_model(settings)
    folder = Path(model).expanduser()
    if not _converted(folder):
        raise ValueError(
            f"local.model: {model!r} is neither 'embedded' nor a folder with config.json and tokenizer.json"
        )
    return folder


def load_tokenizer(model_dir: Path) -> Any:
    """The cached tokenizer, left-padding for batched generation."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    tokenizer.padding_side = "left"
    return tokenizer


def stop_token_ids(model_dir: Path) -> list[int]:
    """The token ids generation stops on (the saved generation config's end tokens)."""
    from transformers import GenerationConfig

    eos = GenerationConfig.from_pretrained(model_dir).eos_token_id
    return [eos] if isinstance(eos, int) else list(eos)


def lora_adapter(lora: LoraConfig) -> Any:
    """The peft adapter config of a LoraConfig."""
    from peft import LoraConfig as PeftLoraConfig

    return PeftLoraConfig(
        r=lora.rank, lora_alpha=lora.alpha, target_modules=list(lora.target_modules), lora_dropout=0.0
    )


def load_policy(model_dir: Path, lora: LoraConfig, precision: Resolved = "fp32") -> Any:
    """The model with LoRA adapters (only they train) or, when LoRA is off, every weight trainable; trainable
    weights are fp32, frozen ones are stored in ``precision`` (run its forward under ``precision.compute``)."""
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    if lora.enabled:
        from peft import get_peft_model

        model = get_peft_model(model, lora_adapter(lora))
    return lower_frozen(model, precision)


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
