"""The embedded engine on the real default model: generation, streaming, n candidates decoded together, greedy text
equal to a bare llama.cpp loop, seeds, prompt lookup and prefix reuse on/off (identical text), JSON-schema
grammars, stop strings, cancellation of the whole request and of one sequence in a batch."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path

import llama_cpp
import numpy as np
import pytest
from llama_cpp import _internals as llama_internals

from k2core import verify
from k2core.config import EngineSettings
from k2core.engines.llamacpp import LlamaCppEngine, _Drafter, chat_prompt, context_params
from k2core.errors import ValidationError
from k2core.pipeline.solver import solver_messages
from k2core.types import Message, SamplingParams

CODE = (
    "def fibonacci(n):\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a\n\n"
    "def factorial(n):\n    result = 1\n    for i in range(2, n + 1):\n        result *= i\n    return result\n"
)
COPY = [Message(role="user", content=f"Rewrite this Python code, renaming fibonacci to fib:\n\n{CODE}")]
COUNT = [Message(role="user", content="Count from 1 to 10.")]
OPEN = [Message(role="user", content="Write one sentence about the sea.")]  # many likely continuations
VERDICT = {
    "type": "object",
    "properties": {"winner": {"enum": ["A", "B", "tie"]}, "confidence": {"type": "number"}},
    "required": ["winner", "confidence"],
}
GREEDY = SamplingParams(temperature=0, max_tokens=24)


def embedded(model: Path, **knobs: object) -> LlamaCppEngine:
    settings = EngineSettings()
    settings.embedded = settings.embedded.model_copy(update={"model_path": str(model), **knobs})
    return LlamaCppEngine(settings, cache_dir=model.parent)


@pytest.fixture(scope="module")
def engine(embedded_model_path: Path) -> Iterator[LlamaCppEngine]:
    engine = embedded(embedded_model_path)
    yield engine
    asyncio.run(engine.close())


def test_chat_prompt_uses_gemma_turns_and_folds_system_messages() -> None:
    prompt = chat_prompt(None, [Message(role="system", content="Be brief."), Message(role="user", content="Hi")])
    assert prompt == "<start_of_turn>user\nBe brief.\n\nHi<end_of_turn>\n<start_of_turn>model\n"


@pytest.mark.slow
async def test_generate_reports_tokens_and_seconds(engine: LlamaCppEngine) -> None:
    [completion] = await engine.generate(COUNT, GREEDY)
    assert completion.text.strip()
    assert completion.finish_reason in {"stop", "length"}
    assert completion.prompt_tokens > 5 and 0 < completion.completion_tokens <= GREEDY.max_tokens
    assert completion.seconds > 0 and completion.spec_decode is None
    assert engine.context_tokens == 8192


@pytest.mark.slow
async def test_stream_yields_the_same_text_as_generate(engine: LlamaCppEngine) -> None:
    [completion] = await engine.generate(COUNT, GREEDY)
    deltas = [delta async for delta in engine.stream(COUNT, GREEDY)]
    assert len(deltas) > 2 and deltas[-1].finish_reason == completion.finish_reason
    assert "".join(d.text for d in deltas) == completion.text
    assert deltas[-1].completion_tokens == completion.completion_tokens


@pytest.mark.slow
async def test_three_candidates_are_decoded_together_with_distinct_seeds(engine: LlamaCppEngine) -> None:
    params = SamplingParams(temperature=1.0, top_p=0.95, max_tokens=24, seed=7)
    first = await engine.generate(OPEN, params, n=3)
    again = await engine.generate(OPEN, params, n=3)
    assert len(first) == 3 and all(c.completion_tokens > 0 for c in first)
    assert len({c.text for c in first}) > 1  # distinct seeds give different samples
    assert [c.text for c in first] == [c.text for c in again]  # and the same seeds the same samples


@pytest.mark.slow
async def test_prompt_lookup_keeps_greedy_text_identical(embedded_model_path: Path) -> None:
    params = SamplingParams(temperature=0, max_tokens=72)  # inside the copied code: no near-tied tokens there
    texts = {}
    for lookup in (False, True):
        engine = embedded(embedded_model_path, prompt_lookup=lookup)
        [completion] = await engine.generate(COPY, params)
        texts[lookup] = completion.text
        await engine.close()
    stats = completion.spec_decode
    assert stats is not None and stats.method == "prompt_lookup"
    assert stats.draft_tokens > 0 and stats.accepted_tokens > 0  # the copy task is where lookup pays
    assert texts[True] == texts[False]


@pytest.mark.slow
async def test_json_schema_output_parses(engine: LlamaCppEngine) -> None:
    messages = [Message(role="user", content="Which answer is better, A: 4 or B: 5, for 2+2? Reply in JSON.")]
    [completion] = await engine.generate(messages, SamplingParams(temperature=0, max_tokens=64, json_schema=VERDICT))
    verdict = json.loads(completion.text)
    assert verdict["winner"] in {"A", "B", "tie"} and isinstance(verdict["confidence"], int | float)


@pytest.mark.slow
async def test_json_strings_never_hold_raw_control_characters(engine: LlamaCppEngine) -> None:
    """A plan asked for one step a line: the model wants newlines inside the string, and the grammar makes it
    write them escaped (a raw newline is invalid JSON; llama-cpp-python's converter allowed it)."""
    schema = {
        "type": "object",
        "properties": {"hard": {"type": "boolean"}, "plan": {"type": "string"}},
        "required": ["hard", "plan"],
    }
    ask = (
        "Write a plan with numbered steps, one step per line, for this problem, as JSON: Janet has 3 apples and "
        "buys 5 more bags of 4 apples. How many apples?"
    )
    params = SamplingParams(temperature=0.8, top_p=0.95, max_tokens=160, seed=1, json_schema=schema)
    completions = await engine.generate([Message(role="user", content=ask)], params, 4)
    for completion in completions:
        assert not any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in completion.text), completion.text
        if completion.finish_reason == "stop":
            assert isinstance(json.loads(completion.text)["plan"], str)


@pytest.mark.slow
async def test_stop_strings_cut_the_text(engine: LlamaCppEngine) -> None:
    [full] = await engine.generate(COUNT, GREEDY)
    stop = full.text.strip()[2:4]
    [cut] = await engine.generate(COUNT, GREEDY.model_copy(update={"stop": [stop]}))
    assert cut.finish_reason == "stop" and stop not in cut.text
    assert full.text.startswith(cut.text)


@pytest.mark.slow
async def test_cancelling_the_caller_stops_decoding(engine: LlamaCppEngine) -> None:
    task = asyncio.create_task(engine.generate(COUNT, SamplingParams(temperature=1.0, max_tokens=2000), n=2))
    while engine.active_sequences < 2:
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.3)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    deadline = time.monotonic() + 5
    while engine.active_sequences and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    assert engine.active_sequences == 0
    [after] = await engine.generate(COUNT, SamplingParams(temperature=0, max_tokens=4))
    assert after.completion_tokens > 0  # the shared context is still usable


@pytest.mark.slow
async def test_closing_a_stream_early_stops_its_sequence(engine: LlamaCppEngine) -> None:
    stream = engine.stream(COUNT, SamplingParams(temperature=1.0, max_tokens=2000))
    async for _ in stream:
        break
    await stream.aclose()
    deadline = time.monotonic() + 5
    while engine.active_sequences and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    assert engine.active_sequences == 0


@pytest.mark.slow
async def test_engines_share_one_model_per_process(engine: LlamaCppEngine, embedded_model_path: Path) -> None:
    same, smaller = embedded(embedded_model_path), embedded(embedded_model_path, n_ctx=1024)
    await asyncio.gather(engine.load(), same.load(), smaller.load())
    assert same._runtime is engine._runtime  # same settings: same context and decode batch
    assert smaller._runtime is not engine._runtime and smaller._runtime.model is engine._runtime.model
    await same.close()
    await smaller.close()
    assert engine._runtime is not None and await engine.health()


@pytest.mark.slow
async def test_a_prompt_longer_than_the_context_is_a_validation_error(embedded_model_path: Path) -> None:
    engine = embedded(embedded_model_path, n_ctx=256)
    with pytest.raises(ValidationError) as info:
        await engine.generate([Message(role="user", content="word " * 400)], GREEDY)
    assert info.value.field == "messages"
    await engine.close()


@pytest.mark.slow
async def test_concurrent_requests_share_the_batch(engine: LlamaCppEngine) -> None:
    prompts = [[Message(role="user", content=f"Say something about the number {i}.")] for i in range(3)]
    tasks = [asyncio.create_task(engine.generate(p, SamplingParams(temperature=0, max_tokens=12))) for p in prompts]
    peak = 0
    while not all(t.done() for t in tasks):
        peak = max(peak, engine.active_sequences)
        await asyncio.sleep(0.01)
    assert all(t.result()[0].completion_tokens > 0 for t in tasks)
    assert peak >= 2


@pytest.mark.slow
async def test_more_candidates_than_slots_wait_for_a_free_slot(embedded_model_path: Path) -> None:
    engine = embedded(embedded_model_path, n_ctx=1024, max_sequences=2)
    completions = await engine.generate(COUNT, SamplingParams(temperature=1.0, max_tokens=6, seed=3), n=3)
    assert len(completions) == 3 and all(c.completion_tokens > 0 for c in completions)
    await engine.close()


def test_drafter_follows_the_copied_span_and_backs_off_after_a_miss() -> None:
    prompt = [5, 1, 2, 3, 4, 1, 2, 9, 8, 7]
    drafter = _Drafter(ngram=2, max_tokens=4)
    history = np.array([*prompt, 1, 2], dtype=np.intc)  # the output starts copying "1 2"
    assert drafter.propose(history, room=10) == [3, 4, 1, 2]  # earliest occurrence of the trailing "1 2"
    drafter.update(drafted=4, matched=4)  # "3 4 1 2" accepted, then the model picked 9
    history = np.array([*prompt, 1, 2, 3, 4, 1, 2, 9], dtype=np.intc)
    assert drafter.propose(history, room=10)[:2] == [8, 7]  # kept following the copied span, not "1 2" -> "3 4"
    drafter.update(drafted=4, matched=0)  # the model went elsewhere: draft one token next time
    assert drafter.limit == 1 and (drafter.drafted, drafter.accepted) == (8, 4)
    assert drafter.propose(np.array([42, 43], dtype=np.intc), room=10) == []  # nothing to look up


@pytest.mark.slow
async def test_a_schema_llama_cpp_cannot_compile_is_a_validation_error(engine: LlamaCppEngine) -> None:
    with pytest.raises(ValidationError) as info:
        await engine.generate(COUNT, GREEDY.model_copy(update={"json_schema": {"type": "frobnicate"}}))
    assert info.value.field == "json_schema"


def bare_greedy(engine: LlamaCppEngine, messages: list[Message], max_tokens: int) -> str:
    """Greedy text from a plain llama.cpp loop on a context of its own: prefill, then argmax and decode one token."""
    runtime = engine._runtime
    assert runtime is not None
    model, prompt = runtime.model, runtime.prompt(messages)
    ctx = llama_internals.LlamaContext(model=model, params=context_params(engine._cfg), verbose=False)
    batch = llama_internals.LlamaBatch(n_tokens=len(prompt), embd=0, n_seq_max=1, verbose=False)
    batch.set_batch(prompt, n_past=0, logits_all=False)
    ctx.decode(batch)
    tokens, n_past = [], len(prompt)
    for _ in range(max_tokens):
        logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(ctx.ctx, -1), shape=(model.n_vocab(),))
        token = int(np.argmax(logits))
        if llama_cpp.llama_vocab_is_eog(model.vocab, token):
            break
        tokens.append(token)
        batch.set_batch([token], n_past=n_past, logits_all=True)
        ctx.decode(batch)
        n_past += 1
    batch.close()
    ctx.close()
    return model.detokenize(tokens).decode("utf-8", errors="replace")


@pytest.mark.slow
async def test_greedy_text_equals_a_bare_llama_cpp_loop(engine: LlamaCppEngine) -> None:
    [completion] = await engine.generate(COUNT, SamplingParams(temperature=0, max_tokens=32))
    assert completion.text == await asyncio.to_thread(bare_greedy, engine, COUNT, 32)


@pytest.mark.slow
async def test_prefix_reuse_skips_prefill_and_keeps_text_identical(embedded_model_path: Path) -> None:
    sampled = SamplingParams(temperature=1.0, top_p=0.95, max_tokens=16, seed=11)
    fresh = embedded(embedded_model_path, prefix_reuse=False)
    cold = [c.text for c in await fresh.generate(COUNT, sampled, n=3)]
    await fresh.close()
    engine = embedded(embedded_model_path, n_ctx=2048)
    first = [c.text for c in await engine.generate(COUNT, sampled, n=3)]
    decoded, reused = engine.prefill_tokens
    again = [c.text for c in await engine.generate(COUNT, sampled, n=3)]
    assert engine.prefill_tokens == (decoded, reused + decoded)  # the whole prompt came from a slot's KV
    assert cold == first == again  # same seeds, same samples, whether the prompt was decoded or reused
    other = [Message(role="user", content="Count from 1 to 10, then say done.")]
    await engine.generate(other, GREEDY)
    assert engine.prefill_tokens[1] > reused + decoded  # the chat template's opening is shared with COUNT
    await engine.close()


@pytest.mark.slow
async def test_streams_of_one_prompt_decode_it_once(embedded_model_path: Path) -> None:
    engine = embedded(embedded_model_path, n_ctx=2048)
    params = SamplingParams(temperature=1.0, max_tokens=8, seed=2)

    async def text(seed: int) -> str:
        return "".join([d.text async for d in engine.stream(COUNT, params.with_seed(seed))])

    streamed = await asyncio.gather(*(text(2 + i) for i in range(3)))
    decoded, reused = engine.prefill_tokens
    assert reused == 2 * decoded  # the second and third stream start from the first one's KV
    assert streamed == [c.text for c in await engine.generate(COUNT, params, n=3)]
    await engine.close()


@pytest.mark.slow
async def test_temperature_zero_is_greedy_and_seeds_repeat(engine: LlamaCppEngine) -> None:
    greedy = [c.text for c in await engine.generate(COUNT, SamplingParams(temperature=0, max_tokens=16, seed=1), n=2)]
    other_seed = await engine.generate(COUNT, SamplingParams(temperature=0, max_tokens=16, seed=99))
    assert greedy[0] == greedy[1] == other_seed[0].text  # seeds do not matter at temperature 0
    sampled = SamplingParams(temperature=1.0, top_p=0.95, max_tokens=16, seed=5)
    first, again = await engine.generate(COUNT, sampled), await engine.generate(COUNT, sampled)
    assert first[0].text == again[0].text


@pytest.mark.slow
async def test_cancelling_one_request_leaves_the_others_in_the_batch_intact(engine: LlamaCppEngine) -> None:
    params = SamplingParams(temperature=1.0, top_p=0.95, max_tokens=24, seed=21)
    [alone] = await engine.generate(COUNT, params)
    doomed = asyncio.create_task(engine.generate(COUNT, SamplingParams(temperature=1.0, max_tokens=2000)))
    while engine.active_sequences < 1:
        await asyncio.sleep(0.01)
    survivor = asyncio.create_task(engine.generate(COUNT, params))
    while engine.active_sequences < 2:
        await asyncio.sleep(0.01)
    doomed.cancel()
    [kept] = await survivor
    assert doomed.cancelled()
    assert kept.completion_tokens == alone.completion_tokens and kept.finish_reason == alone.finish_reason
    assert kept.text == alone.text  # batched with another sequence, then alone: the same seeded sample


def test_a_q8_0_kv_cache_turns_flash_attention_on() -> None:
    settings = EngineSettings().embedded
    assert settings.kv_cache_type == "q8_0"  # the default (bench/results/kv_cache.json)
    plain, quantised = (context_params(settings.model_copy(update={"kv_cache_type": kind})) for kind in ("f16", "q8_0"))
    assert (plain.type_k, plain.type_v) == (llama_cpp.GGML_TYPE_F16,) * 2
    assert (quantised.type_k, quantised.type_v) == (llama_cpp.GGML_TYPE_Q8_0,) * 2
    assert quantised.flash_attn_type == llama_cpp.LLAMA_FLASH_ATTN_TYPE_ENABLED


@pytest.mark.slow
async def test_a_q8_0_kv_cache_halves_the_cache_and_still_answers(embedded_model_path: Path) -> None:
    question = solver_messages("What is 37 * 23?", None, "math")  # the solver's own prompt, as the guard test
    greedy = SamplingParams(temperature=0, max_tokens=384)
    sizes, texts = {}, {}
    for kind in ("f16", "q8_0"):
        engine = embedded(embedded_model_path, n_ctx=1024, max_sequences=1, kv_cache_type=kind)
        [completion] = await engine.generate(question, greedy)
        runtime = engine._runtime
        assert runtime is not None
        sizes[kind] = llama_cpp.llama_state_seq_get_size(runtime.ctx.ctx, 0)  # the slot keeps its KV for reuse
        texts[kind] = completion.text
        if kind == "q8_0":  # the engine's batched path equals a bare loop on the same quantised context
            assert completion.text.startswith(await asyncio.to_thread(bare_greedy, engine, question, 64))
        await engine.close()
    assert verify.grade("math", texts["q8_0"], "851").correct, texts["q8_0"][-300:]
    assert sizes["q8_0"] < 0.6 * sizes["f16"]  # 34 bytes per 32 values instead of 64


@pytest.mark.slow
async def test_split_decoding_gives_each_candidate_its_one_sequence_sample(embedded_model_path: Path) -> None:
    engine = embedded(embedded_model_path, n_ctx=1024, decode_rows="split")
    assert engine._runtime is None
    params = SamplingParams(temperature=1.0, top_p=0.95, max_tokens=24, seed=40)
    together = [c.text for c in await engine.generate(COUNT, params, n=3)]
    assert engine._runtime is not None and engine._runtime.split_rows == frozenset({2, 3, 4})
    alone = [(await engine.generate(COUNT, params.with_seed(40 + i)))[0].text for i in range(3)]
    assert together == alone  # one llama_decode per sequence: the numbers of a sample decoded on its own
    assert len(set(together)) > 1
    await engine.close()


@pytest.mark.slow
async def test_auto_decode_rows_are_measured_once_per_shape(embedded_model_path: Path) -> None:
    batched = embedded(embedded_model_path, n_ctx=512, decode_rows="batched")
    await batched.load()
    assert batched._runtime is not None and batched._runtime.split_rows == frozenset()
    await batched.close()
    first = embedded(embedded_model_path, n_ctx=512, max_sequences=3)
    await first.load()
    assert first._runtime is not None
    measured = first._runtime.split_rows
    assert measured <= {2, 3}
    [completion] = await first.generate(COUNT, GREEDY)  # the measurement left no KV behind: a clean greedy answer
    assert completion.text == await asyncio.to_thread(bare_greedy, first, COUNT, GREEDY.max_tokens)
    await first.close()
    again = embedded(embedded_model_path, n_ctx=512, max_sequences=3)
    await again.load()
    assert again._runtime is not None and again._runtime.split_rows is measured  # kept, not measured again
    await again.close()
    unshared = embedded(embedded_model_path, n_ctx=512, max_sequences=3, prefix_reuse=False)  # another runtime
    await unshared.load()
    assert unshared._runtime is not None and unshared._runtime.split_rows is measured  # the same decode shape
    await unshared.close()


@pytest.mark.slow
async def test_logprobs_follow_the_greedy_tokens_and_leave_the_text_unchanged(engine: LlamaCppEngine) -> None:
    [plain] = await engine.generate(COUNT, GREEDY)
    [scored] = await engine.generate(COUNT, GREEDY.model_copy(update={"top_logprobs": 3}))
    assert plain.logprobs is None and scored.text == plain.text
    assert scored.logprobs is not None and len(scored.logprobs) == scored.completion_tokens
    assert "".join(step.token for step in scored.logprobs) == scored.text
    for step in scored.logprobs:
        assert 1 <= len(step.top) <= 3 and all(lp <= 0 for lp in step.top.values())
        assert step.top[step.token] == pytest.approx(step.logprob, abs=1e-6)  # greedy: the top token
        assert step.logprob == pytest.approx(max(step.top.values()), abs=1e-6)


@pytest.mark.slow
async def test_logprobs_under_a_grammar_are_the_models_unconstrained_distribution(engine: LlamaCppEngine) -> None:
    params = SamplingParams(temperature=0, max_tokens=40, json_schema=VERDICT, top_logprobs=5)
    messages = [Message(role="user", content="Is 2 + 2 = 4? Answer as JSON with winner A for yes, B for no.")]
    [completion] = await engine.generate(messages, params)
    assert completion.logprobs is not None
    assert json.loads(completion.text)["winner"] in {"A", "B", "tie"}
    total = [sum(np.exp(list(step.top.values()))) for step in completion.logprobs]
    assert all(0 < mass <= 1 + 1e-6 for mass in total)


@pytest.mark.slow
async def test_the_calibrated_judge_reads_margins_from_the_real_model(engine: LlamaCppEngine) -> None:
    from k2core.pipeline.judge import EngineJudge

    right, wrong = "6 * 7 = 42, so the answer is \\boxed{42}.", "6 * 7 = 48, so the answer is \\boxed{48}."
    pair = await EngineJudge(engine, calibrate=True).compare_both("What is 6 * 7?", right, wrong)
    m_ab, m_ba = pair.ab.verdict.margin, pair.ba.verdict.margin
    assert m_ab is not None and m_ba is not None and pair.ab.error is None
    expected = ("A", "B") if m_ab > m_ba else ("B", "A") if m_ab < m_ba else ("tie", "tie")
    assert (pair.ab.verdict.winner, pair.ba.verdict.winner) == expected
    assert pair.ab.verdict.reason.startswith("position-calibrated")
