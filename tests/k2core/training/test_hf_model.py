"""The fp32 transformers copy of the embedded GGUF (slow): its tokenizer splits text exactly as llama.cpp does,
its chat template is the GGUF's own, it stops where llama.cpp stops, and its next-token choice matches llama.cpp's
on the same tokens."""

from __future__ import annotations

import numpy as np
import pytest

from k2core.config import Settings
from k2core.models import ensure_embedded_model
from k2core.training.chat import assistant_content, prompt_messages
from k2core.training.config import LoraConfig
from k2core.training.hf_model import ensure_hf_model, load_policy, load_tokenizer, stop_token_ids

pytestmark = pytest.mark.slow

TEXTS = [
    "Hello world, what is 7 + 5?",
    "Natalia sold clips to 48 of her friends in April,\n\nand then she sold half as many clips in May.",
    "  indented    spaces\tand tabs\n\n\n\\boxed{\\frac{1}{2}} — ünïcödé 数学",
]


@pytest.fixture(scope="module")
def llama():
    from llama_cpp import Llama

    return Llama(str(ensure_embedded_model(Settings())), n_ctx=512, verbose=False, logits_all=True)


def test_chat_template_and_end_tokens_are_the_ggufs(llama):
    tokenizer = load_tokenizer(ensure_hf_model(Settings()))
    assert tokenizer.chat_template == llama.metadata["tokenizer.chat_template"]
    assert tokenizer.eos_token_id == llama.token_eos() == tokenizer.convert_tokens_to_ids("<|im_end|>")
    end_of_text = tokenizer.convert_tokens_to_ids("<|endoftext|>")
    assert set(stop_token_ids(ensure_hf_model(Settings()))) == {llama.token_eos(), end_of_text}


def test_tokenizer_matches_llama_cpp(llama):
    tokenizer = load_tokenizer(ensure_hf_model(Settings()))
    chat = tokenizer.apply_chat_template(
        prompt_messages("What is 2 + 3?") + [{"role": "assistant", "content": assistant_content("2 + 3 = 5", "5")}],
        tokenize=False,
    )
    for text in [*TEXTS, chat]:
        ours = tokenizer(text, add_special_tokens=False).input_ids
        assert ours == llama.tokenize(text.encode(), add_bos=False, special=True), text
    assert tokenizer.decode(tokenizer(TEXTS[2], add_special_tokens=False).input_ids) == TEXTS[2]


def test_model_agrees_with_llama_cpp_on_the_next_token(llama):
    import torch

    tokenizer = load_tokenizer(ensure_hf_model(Settings()))
    ids = tokenizer(TEXTS[1], add_special_tokens=True).input_ids
    llama.reset()
    llama.eval(ids)
    expected = int(np.argmax(llama.scores[len(ids) - 1]))
    model = load_policy(ensure_hf_model(Settings()), LoraConfig(enabled=False))
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0, -1]
    assert int(logits.argmax()) == expected
