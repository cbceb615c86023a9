"""Fixtures for the training tests: a tiny Gemma-style tokenizer and a tiny random Gemma 3 model (fast, CPU)."""

from __future__ import annotations

import string
from pathlib import Path

import pytest

from k2core.training.chat import GEMMA_CHAT_TEMPLATE

REPO = Path(__file__).resolve().parents[3]
CHATML_TEMPLATE = (
    "{% for m in messages %}{{ '<start_of_turn>' + m['role'] + '\n' + m['content'] + '<end_of_turn>\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<start_of_turn>assistant\n' }}{% endif %}"
)


def tiny_tokenizer(template: str = GEMMA_CHAT_TEMPLATE):
    """A Gemma tokenizer class over a character vocabulary with byte fallback and Gemma's control tokens."""
    from tokenizers import AddedToken
    from transformers import GemmaTokenizer

    pieces = ["<pad>", "<eos>", "<bos>", "<unk>", "<mask>", "<start_of_turn>", "<end_of_turn>"]
    pieces += [f"<0x{b:02X}>" for b in range(256)]
    pieces += ["▁"] + [c for c in string.printable if c not in " \t\r\x0b\x0c"]
    tokenizer = GemmaTokenizer(vocab={p: i for i, p in enumerate(dict.fromkeys(pieces))}, merges=[])
    tokenizer.add_tokens([AddedToken(p, special=True, normalized=False) for p in pieces[:7]], special_tokens=True)
    tokenizer.chat_template = template
    return tokenizer


@pytest.fixture(scope="session")
def tokenizer():
    return tiny_tokenizer()


@pytest.fixture()
def tiny_model(tokenizer):
    """A 2-layer random Gemma 3 with the tiny tokenizer's vocabulary."""
    import torch
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig

    torch.manual_seed(0)
    config = Gemma3TextConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=16,
        sliding_window=64,
        layer_types=["sliding_attention", "full_attention"],
        max_position_embeddings=512,
    )
    return Gemma3ForCausalLM(config)
