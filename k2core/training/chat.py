"""The AM-Thinking chat format shared by SFT and RL: a system prompt, the user turn, and an assistant turn of
``<think>…</think>`` then the final answer; rendered with the model's own chat template (the embedded GGUF's)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from k2core.training.config import Turn

SYSTEM_PROMPT = (
    "You are a helpful assistant. First think about the problem step by step inside <think> </think> tags, "
    "then give the final answer after </think>."
)

Message = dict[str, str]


def assistant_content(think: str, answer: str) -> str:
    """One AM-Thinking assistant turn: the reasoning inside ``<think>`` tags, then the final answer."""
    return f"<think>\n{think.strip()}\n</think>\n\n{answer.strip()}"


def prompt_messages(prompt: str, fewshot: Sequence[Turn] = (), system: str = SYSTEM_PROMPT) -> list[Message]:
    """System prompt, optional demonstration turns, then the user prompt."""
    messages: list[Message] = [{"role": "system", "content": system}]
    for turn in fewshot:
        messages += [{"role": "user", "content": turn.user}, {"role": "assistant", "content": turn.assistant}]
    return messages + [{"role": "user", "content": prompt}]


def prompt_ids(tokenizer: Any, messages: Sequence[Message]) -> list[int]:
    """Token ids of a conversation ending with the generation prompt of the assistant turn."""
    return list(
        tokenizer.apply_chat_template(list(messages), add_generation_prompt=True, tokenize=True, return_dict=False)
    )


def sft_ids_and_mask(tokenizer: Any, messages: Sequence[Message], max_length: int) -> tuple[list[int], list[int]]:
    """Ids of a conversation whose last turn is the assistant's, with a loss mask that is 1 on its tokens only."""
    if messages[-1]["role"] != "assistant":
        raise ValueError("messages: the last message must be the assistant's")
    prefix = prompt_ids(tokenizer, messages[:-1])
    full = list(tokenizer.apply_chat_template(list(messages), tokenize=True, return_dict=False))
    if full[: len(prefix)] != prefix:
        raise ValueError("messages: the chat template does not render the prompt as a prefix of the conversation")
    mask = [0] * len(prefix) + [1] * (len(full) - len(prefix))
    return full[:max_length], mask[:max_length]
