"""A guard on prompt and template for the default model (slow): with greedy decoding the embedded
Qwen2.5-Coder-0.5B-Instruct answers a few fixed problems right, through the real solver prompt and the GGUF's own
chat template. Not a claim of intelligence: a broken template, prompt or answer extraction fails these first."""

from __future__ import annotations

import pytest

from k2core import verify
from k2core.config import Settings
from k2core.data import load_dataset
from k2core.engines import build_engine
from k2core.engines.llamacpp import chat_prompt
from k2core.pipeline.solver import solver_messages
from k2core.types import SamplingParams

pytestmark = pytest.mark.slow

GREEDY = SamplingParams(temperature=0.0, top_p=1.0, max_tokens=384, seed=0)


@pytest.fixture
async def engine():  # the model itself is loaded once per process and shared
    settings = Settings()
    engine = build_engine(settings.solver, cache_dir=settings.cache_dir)
    await engine.load()
    yield engine
    await engine.close()


async def _answer(engine, problem: str, domain: str) -> str:  # noqa: ANN001
    [completion] = await engine.generate(solver_messages(problem, None, domain), GREEDY, 1)
    assert completion.finish_reason == "stop", "the instruction model stops on its own"
    return completion.text


@pytest.mark.parametrize(
    ("problem", "truth"),
    [
        ("What is 37 * 23?", "851"),
        (load_dataset("gsm8k_train", limit=1)[0].prompt, load_dataset("gsm8k_train", limit=1)[0].answer),  # clips: 72
    ],
)
async def test_greedy_math_answers(engine, problem: str, truth: str) -> None:  # noqa: ANN001
    text = await _answer(engine, problem, "math")
    assert "\\boxed{" in text
    assert verify.grade("math", text, truth).correct, text[-300:]


async def test_greedy_code_answer_passes_the_hidden_tests(engine) -> None:  # noqa: ANN001
    problem = load_dataset("humaneval", limit=1)[0]  # has_close_elements
    text = await _answer(engine, problem.prompt, "code")
    assert "```python" in text
    assert verify.grade("code", text, problem.answer).correct, text[-500:]


async def test_the_chat_template_is_applied_and_not_echoed(engine) -> None:  # noqa: ANN001
    runtime = engine._runtime  # the loaded model's own template, as the engine renders it
    prompt = chat_prompt(runtime.chat_template, solver_messages("What is 2 + 2?", None, "math"), bos=runtime.bos, eos=runtime.eos)
    assert prompt.count("<|im_start|>user") == 1 and prompt.rstrip().endswith("<|im_start|>assistant")
    text = await _answer(engine, "What is 2 + 2?", "math")
    assert "<|im_start|>" not in text and "Solve the following problem" not in text
    assert verify.grade("math", text, "4").correct
