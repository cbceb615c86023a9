"""The official openai client, unchanged, against the gateway's HTTP facade (fake engine behind real services)."""

from __future__ import annotations

import httpx
import openai
import pytest

from tests.services.harness import Stack

MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is 2 + 2?"}]
EXTRA = {"best_of": 2, "seed": 1}


def client(stack: Stack, **kwargs: object) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=f"{stack.http}/v1", api_key="unused", max_retries=0, **kwargs)


async def test_models_lists_the_pipeline(stack: Stack) -> None:
    models = await client(stack).models.list()
    assert [m.id for m in models.data] == ["k2think"]


async def test_non_stream_puts_reasoning_and_answer_apart(stack: Stack) -> None:
    raw = await client(stack).chat.completions.with_raw_response.create(
        model="k2think", messages=MESSAGES, extra_body=EXTRA
    )
    completion = raw.parse()
    message = completion.choices[0].message
    assert message.content in {"The answer is \\boxed{4}.", "The answer is \\boxed{5}."}
    assert message.model_extra["reasoning_content"].startswith("2 plus 2 makes")
    assert completion.choices[0].finish_reason == "stop"
    record = completion.model_extra["k2think"]
    assert record["selection"]["method"] == "judge" and len(record["candidates"]) == 2
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens > 0
    assert raw.headers["x-request-id"]


async def test_stream_carries_stage_progress_then_the_answer_and_usage(stack: Stack) -> None:
    stream = await client(stack).chat.completions.create(
        model="k2think", messages=MESSAGES, stream=True, stream_options={"include_usage": True}, extra_body=EXTRA
    )
    chunks = [chunk async for chunk in stream]
    kinds = [c.model_extra["k2think"]["kind"] for c in chunks if (c.model_extra or {}).get("k2think")]
    assert kinds[0] == "plan" and kinds[-1] == "final"
    assert {"candidate_delta", "candidate_done", "verdict"} <= set(kinds)
    content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    reasoning = "".join(
        (c.choices[0].delta.model_extra or {}).get("reasoning_content") or "" for c in chunks if c.choices
    )
    assert content.startswith("The answer is") and reasoning.startswith("2 plus 2 makes")
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["stop"]
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens > 0
    assert all(c.usage is None for c in chunks[:-1])


@pytest.mark.parametrize(
    ("kwargs", "status", "param"),
    [
        ({"temperature": -1}, 400, "temperature"),
        ({"top_p": 2}, 400, "top_p"),
        ({"extra_body": {"best_of": 0}}, 400, "best_of"),
        ({"n": 3}, 400, "n"),
        ({"model": "gpt-4"}, 400, "model"),
        ({"messages": [{"role": "user", "content": "x" * (2 << 20)}]}, 413, "messages"),
        ({"messages": [{"role": "system", "content": "only a system message"}]}, 400, "messages"),
    ],
)
async def test_errors_come_back_in_openai_shape(stack: Stack, kwargs: dict, status: int, param: str) -> None:
    arguments = {"model": "k2think", "messages": MESSAGES, **kwargs}
    with pytest.raises(openai.APIStatusError) as caught:
        await client(stack).chat.completions.create(**arguments)
    assert caught.value.status_code == status
    error = caught.value.body
    assert error["param"] == param and error["type"] == "invalid_request_error" and param in error["message"]


async def test_stream_errors_come_back_before_the_stream_starts(stack: Stack) -> None:
    with pytest.raises(openai.BadRequestError):
        await client(stack).chat.completions.create(model="k2think", messages=MESSAGES, stream=True, temperature=-1)


async def test_malformed_body_names_the_field(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.http) as http:
        response = await http.post("/v1/chat/completions", json={"model": "k2think", "messages": "nope"})
    assert response.status_code == 400 and response.json()["error"]["param"] == "messages"


async def test_earlier_turns_reach_the_solver_as_demonstrations_after_the_system_turn(stack: Stack) -> None:
    history = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "What is 1 + 1?"},
        {"role": "assistant", "content": "1 + 1 = 2. \\boxed{2}"},
        {"role": "user", "content": "What is 2 + 2?"},
    ]
    stack.engine.conversations.clear()
    await client(stack).chat.completions.create(
        model="k2think", messages=history, extra_body={"best_of": 1, "plan": False}
    )
    solver_turns = [c for c in stack.engine.conversations if len(c) == 4]
    assert solver_turns, stack.engine.conversations
    system, user, reply, problem = solver_turns[0]
    assert (system.role, user.role, reply.role, problem.role) == ("system", "user", "assistant", "user")
    assert system.content == "Be brief."
    assert "What is 1 + 1?" in user.content and reply.content == "1 + 1 = 2. \\boxed{2}"
    assert "What is 2 + 2?" in problem.content and "What is 1 + 1?" not in problem.content


async def test_an_empty_demonstration_turn_is_reported_on_messages(stack: Stack) -> None:
    history = [
        {"role": "user", "content": "What is 1 + 1?"},
        {"role": "assistant", "content": ""},
        {"role": "user", "content": "What is 2 + 2?"},
    ]
    with pytest.raises(openai.BadRequestError) as caught:
        await client(stack).chat.completions.create(model="k2think", messages=history)
    assert caught.value.body["param"] == "messages" and "demonstrations[0].response" not in caught.value.body["param"]
