"""The three studies on scripted fakes: report files exist, PNGs are valid, the figures are the expected ones."""

from __future__ import annotations

from pathlib import Path

import matplotlib.image
import pytest

from k2core.data import load_dataset
from k2core.eval.components import run_components
from k2core.eval.harness import EvalSpec, read_records
from k2core.eval.scaling import run_scaling
from k2core.eval.selection_study import StudyRecord, StudySpec, run_selection_report, study_limit
from tests.k2core.eval.fakes import FakeSolve, TruthJudge

PROBLEMS = load_dataset("gen:arith", 4, seed=0)


def assert_png(path: Path) -> None:
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    height, width = matplotlib.image.imread(path).shape[:2]
    assert height > 100 and width > 100


def spread(problem, call):  # noqa: ANN001, ANN201 - one right answer among three different ones
    return ["-1", problem.answer, "-2", "-3", "-4", "-5", "-6", "-7"]


async def test_components_report_reads_four_arms_off_two_studies(tmp_path: Path) -> None:
    class PlanAwareSolve(FakeSolve):
        async def __call__(self, request):  # noqa: ANN001, ANN204
            self.planned = request.plan
            return await super().__call__(request)

    def answers(problem, call):  # noqa: ANN001, ANN201 - planned: 2 of 3 right; unplanned: 1 of 3 right
        return [problem.answer, "-1", problem.answer] if solve.planned else ["-1", problem.answer, "-2"]

    solve = PlanAwareSolve(PROBLEMS, answers)
    judge = TruthJudge(PROBLEMS)
    spec = StudySpec(dataset="gen:arith", limit=4, n=3, max_tokens=64)
    summaries = await run_components(["gen:arith"], spec, solve, judge, tmp_path)
    summary = summaries["gen:arith"]
    arms = summary["arms"]
    assert summary["problems"] == 4 and list(arms) == ["base", "+plan", "+best-of-N", "both"]
    assert arms["base"]["accuracy"] == pytest.approx(1 / 3) and arms["+plan"]["accuracy"] == pytest.approx(2 / 3)
    assert arms["+best-of-N"]["accuracy"] == 1.0 and arms["both"]["accuracy"] == 1.0  # judge, then majority
    assert arms["+best-of-N"]["judge_calls_per_problem"] == 4 and arms["both"]["judge_calls_per_problem"] == 0
    assert arms["+plan"]["vs_base"] == pytest.approx(1 / 3) and arms["base"]["vs_base_ci95"] is None
    assert summary["candidate_tokens"]["plan_change"] is not None
    text = (tmp_path / "components.md").read_text()
    assert "| gen:arith (4) | 33.3%" in text and "Gain over base" in text and "Response length" in text
    assert_png(tmp_path / "components.png")
    for folder in ("plan", "no-plan"):
        assert (tmp_path / "components" / "gen-arith" / folder / "results.jsonl").exists()


async def test_selection_report(tmp_path: Path) -> None:
    judge = TruthJudge(PROBLEMS)
    spec = StudySpec(dataset="gen:arith", limit=4, n=3, max_tokens=64)
    study = await run_selection_report(spec, FakeSolve(PROBLEMS, spread), judge, tmp_path)
    selectors = study["selectors"]
    assert study["problems"] == 4
    assert selectors["pass@1"]["accuracy"] == pytest.approx(1 / 3)
    assert selectors["majority@N"]["accuracy"] == pytest.approx(1 / 3)  # three singletons: a three-way tie
    assert selectors["oracle"]["accuracy"] == 1.0
    assert selectors["k2think"]["gap_closed"] == selectors["linear judge"]["gap_closed"] == 1.0
    assert selectors["majority@N"]["gap_closed"] == pytest.approx(0.0)
    assert selectors["k2think"]["gap_closed_ci95"] == [1.0, 1.0]  # the truth judge closes the gap in every resample
    assert selectors["pass@1"]["gap_closed_ci95"] is None and selectors["oracle"]["vs_majority"] is None
    versus = selectors["k2think"]["vs_majority"]
    assert versus["difference"] == pytest.approx(2 / 3) and versus["ci95"] == pytest.approx([2 / 3, 2 / 3])
    assert selectors["k2think"]["judge_calls_per_problem"] == 4  # both orders, two rounds
    assert selectors["linear judge"]["judge_calls_per_problem"] == 2
    assert judge.calls == 4 * (6 + 2)  # 4 + 2 selection calls and one probe pair in both orders per problem
    quality = study["judge_quality"]
    assert quality["pairs"] == 4 and quality["both_orders"] == 1.0  # the truth judge always picks the right one
    low, high = selectors["pass@1"]["ci95"]
    assert low <= 1 / 3 <= high and selectors["oracle"]["ci95"] == [1.0, 1.0]
    text = (tmp_path / "selection.md").read_text()
    assert "gap closed" in text and "gap 95% CI" in text and "## Judge quality" in text
    assert "| k2think | 100.0% |" in text and "+66.7 [+66.7, +66.7]" in text
    assert_png(tmp_path / "selection.png")
    records = read_records(tmp_path / "selection" / "results.jsonl", StudyRecord)
    assert [len(r.texts) for r in records] == [3] * 4, "every candidate's text is kept for offline judge replays"
    assert records[0].texts[1] == f"So it is \\boxed{{{PROBLEMS[0].answer}}}"
    again = FakeSolve(PROBLEMS, spread)
    await run_selection_report(spec, again, judge, tmp_path)
    assert again.calls == [], "a finished study is not redone"


async def test_a_replay_judges_the_stored_candidates_again_without_sampling(tmp_path: Path) -> None:
    from k2core.roles import JudgeBase, JudgeOutcome
    from k2core.types import Verdict

    class FirstJudge(JudgeBase):  # pure position bias: always A
        async def compare(self, problem: str, a: str, b: str) -> JudgeOutcome:
            return JudgeOutcome(verdict=Verdict(winner="A"))

    spec = StudySpec(dataset="gen:arith", limit=4, n=3, max_tokens=64)
    source = tmp_path / "sampled"
    first = await run_selection_report(spec, FakeSolve(PROBLEMS, spread), FirstJudge(), source)
    assert first["selectors"]["k2think"]["accuracy"] < 1.0  # the biased judge leaves every pair a tie
    unused = FakeSolve(PROBLEMS, spread)
    judge = TruthJudge(PROBLEMS)
    replayed = await run_selection_report(
        spec, unused, judge, tmp_path / "replayed", replay_from=source / "selection", judge_calibrated=True
    )
    assert unused.calls == [] and judge.calls == 4 * (6 + 2)
    assert replayed["problems"] == 4 and replayed["selectors"]["k2think"]["accuracy"] == 1.0
    assert replayed["selectors"]["pass@1"] == first["selectors"]["pass@1"]  # the same candidates
    assert replayed["replayed_from"] == (source / "selection").as_posix() and replayed["judge_calibrated"]
    before = replayed["before_replay"]
    assert before["problems"] == 4 and before["k2think_replayed"] == 1.0
    assert before["k2think_before"] == first["selectors"]["k2think"]["accuracy"]
    assert before["difference"] == pytest.approx(1.0 - before["k2think_before"])
    text = (tmp_path / "replayed" / "selection.md").read_text()
    assert "position-calibrated" in text and "replayed from" in text
    assert f"scored {100 * before['k2think_before']:.1f}% with the judge they were studied with and 100.0%" in text
    with pytest.raises(ValueError, match="n: .* holds a run with n=3"):
        await run_selection_report(
            StudySpec(dataset="gen:arith", limit=4, n=4, max_tokens=64), unused, judge, tmp_path / "other",
            replay_from=source / "selection",
        )  # fmt: skip
    with pytest.raises(ValueError, match="holds no candidate texts"):
        await run_selection_report(spec, unused, judge, tmp_path / "empty", replay_from=tmp_path / "nothing")


async def test_scaling_report(tmp_path: Path) -> None:
    template = EvalSpec(dataset="gen:arith", max_tokens=64, limit=4)
    rows = await run_scaling(template, FakeSolve(PROBLEMS, spread), tmp_path, ns=(1, 2, 3))
    assert [r["n"] for r in rows] == [1, 2, 3]
    assert rows[0]["tokens_per_request"] < rows[1]["tokens_per_request"] < rows[2]["tokens_per_request"]
    assert "| 3 |" in (tmp_path / "scaling.md").read_text()
    assert_png(tmp_path / "scaling.png")


def test_a_judge_that_always_picks_a_is_caught_by_the_both_order_probe() -> None:
    from k2core.eval.selection_study import JudgeProbe, StudyRecord, judge_quality

    probes = [JudgeProbe(right=1, wrong=0, right_as_a="A", right_as_b="A")] * 3
    quality = judge_quality([StudyRecord(problem_id="p", domain="math", probes=probes)])
    assert quality == {"pairs": 3, "right_shown_as_a": 1.0, "right_shown_as_b": 0.0, "both_orders": 0.0}


def test_eval_report_sits_next_to_the_published_figure(tmp_path: Path) -> None:
    from k2core.eval.published import published_figure
    from k2core.eval.reports import write_eval

    summary = {"dataset": "humaneval", "temperature": 0.0, "top_p": 1.0, "avg_pass_at_1": 0.55,
               "avg_pass_at_1_ci95": [0.47, 0.63], "problems": 164, "k": 1, "n": 1, "plan": False, "judge": False,
               "max_tokens": 768, "errors": 0, "mean_response_tokens": 180.0, "seconds_per_stage": {"total": 9.0}}  # fmt: skip
    published = published_figure("qwen2.5-coder-0.5b-instruct", "humaneval")
    assert published is not None and published.value == 61.6
    text = write_eval(tmp_path, summary, "qwen2.5-coder-0.5b-instruct", published).read_text()
    assert "| k2think harness | 55.0% | [47.0%, 63.0%] | 164 problems × k=1, N=1, greedy |" in text
    assert "61.6%" in text and "2409.12186" in text
    assert_png(tmp_path / "eval.png")


@pytest.mark.parametrize(
    ("dataset", "limit", "sample", "expected"),
    [
        ("humaneval", None, None, None),  # a file dataset: every row (HumanEval's 164), not a silent 30
        ("humaneval", 40, None, 40),
        ("gsm8k_test", None, 200, None),  # the seeded sample decides
        ("gen:arith", None, None, StudySpec.limit),  # a generator has no end: the study's default count
        ("gen:arith", 12, None, 12),
    ],
)
def test_a_study_takes_a_whole_file_unless_told_otherwise(
    dataset: str, limit: int | None, sample: int | None, expected: int | None
) -> None:
    assert study_limit(dataset, limit, sample) == expected
    spec = StudySpec(dataset=dataset, limit=study_limit(dataset, limit, sample), sample=sample)
    problems = spec.eval_spec().problems()
    if dataset == "humaneval" and limit is None:
        assert len(problems) == 164


async def test_a_replay_refuses_code_candidates_whose_test_scores_are_not_stored(tmp_path: Path) -> None:
    from k2core.eval.harness import append_record

    source = tmp_path / "code-study"
    source.mkdir()
    append_record(source / "results.jsonl", StudyRecord(problem_id="HumanEval/0", domain="code", texts=["x"]))
    spec = StudySpec(dataset="gen:arith", limit=4, n=3, max_tokens=64)
    with pytest.raises(ValueError, match="code candidates need their public-test scores"):
        await run_selection_report(spec, FakeSolve(PROBLEMS, spread), TruthJudge(PROBLEMS), tmp_path / "o", replay_from=source)
