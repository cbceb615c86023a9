"""Forward passes that only project the positions that matter through the 152K-token LM head; logits come back
in fp32 whatever precision the forward ran in."""

from __future__ import annotations

from typing import Any

import torch


def causal_lm(model: Any) -> Any:
    """The transformers CausalLM under a peft wrapper (adapters stay injected), or the model itself."""
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def position_ids(attention_mask: torch.Tensor) -> torch.Tensor:
    """Positions that skip left padding, as generation assigns them."""
    return (attention_mask.long().cumsum(-1) - 1).clamp(min=0)


def hidden_states(model: Any, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Last-layer hidden states of every position."""
    backbone = causal_lm(model).model
    out = backbone(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids(attention_mask))
    return out.last_hidden_state


def response_logits(
    model: Any, input_ids: torch.Tensor, attention_mask: torch.Tensor, response_len: int, temperature: float
) -> torch.Tensor:
    """Logits (batch, response_len, vocab) that predict the last ``response_len`` tokens, divided by the sampling
    temperature as verl does before taking log-probabilities."""
    hidden = hidden_states(model, input_ids, attention_mask)[:, -response_len - 1 : -1]
    return causal_lm(model).lm_head(hidden).float() / temperature


def next_token_logits(
    model: Any, input_ids: torch.Tensor, attention_mask: torch.Tensor, target_mask: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits (n, vocab) for the tokens where ``target_mask`` is 1, and those tokens (for SFT losses)."""
    hidden = hidden_states(model, input_ids, attention_mask)[:, :-1]
    keep = target_mask[:, 1:].bool()
    return causal_lm(model).lm_head(hidden[keep]).float(), input_ids[:, 1:][keep]
