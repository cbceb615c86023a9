"""Selection quality on the same N candidates per problem: pass@1, majority@N, k2think, linear judge, oracle."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from k2core.data.files import FILE_DATASETS
from k2core.data.problem import Problem
from k2core.eval import metrics
from k2core.eval.harness import (
    NO_PROGRESS,
    CandidateOutcome,
    EvalSpec,
    Progress,
    SolveFn,
    check_config,
    config_mismatch,
    drop_torn_tail,
    grade_result,
    read_records,
    run_resumable,
)
from k2core.eval.reports import write_selection
from k2core.pipeline.select import JudgeFn, PairJudgeFn, judged_text, pair_winner, same_answer, select
from k2core.roles import Judge
from k2core.types import Candidate, Verdict

SELECTORS = ("pass@1", "majority@N", "k2think", "linear judge", "oracle")
RESULTS_FILE = "results.jsonl"


class Pick(BaseModel):
    """The candidate one selector chose, whether it is correct, and the judge calls it cost."""

    index: int
    correct: bool
    judge_calls: int
    method: str = ""


class JudgeProbe(BaseModel):
    """The judge on one pair where exactly one candidate is right, shown in both orders."""

    right: int
    wrong: int
    right_as_a: str  # the verdict's winner when the right candidate is shown as A
    right_as_b: str  # ... and when it is shown as B

    @property
    def picks_right(self) -> tuple[bool, bool, bool]:
        """Whether the judge picks the right one: right shown as A, right shown as B, both orders combined."""
        combined = pair_winner(self.right, self.wrong, _verdict(self.right_as_a), _verdict(self.right_as_b))
        return self.right_as_a == "A", self.right_as_b == "B", combined == self.right


def _verdict(winner: str) -> Verdict:
    return Verdict(winner=winner, confidence=1.0, reason="")  # type: ignore[arg-type]


class StudyRecord(BaseModel):
    """One problem: its graded candidates, the picks of the two judged selectors and the judge probes."""

    problem_id: str
    domain: str
    candidates: list[CandidateOutcome] = Field(default_factory=list)
    texts: list[str] = Field(default_factory=list)  # the candidates' texts, in order: judges can be replayed offline
    k2think: Pick | None = None
    linear: Pick | None = None
    probes: list[JudgeProbe] = Field(default_factory=list)
    seconds: float = 0.0
    error: str | None = None

    @property
    def correct(self) -> bool:
        """Whether k2think's pick is correct (what a progress display counts)."""
        return self.k2think is not None and self.k2think.correct


@dataclass(frozen=True)
class StudySpec:
    """The study's workload: N candidates per problem sampled once (no judge), then every selector."""

    dataset: str = "gen:arith"
    limit: int | None = 30
    n: int = 5
    plan: bool = False
    max_tokens: int = 256
    temperature: float = 1.0
    top_p: float = 0.95
    seed: int = 0
    fewshot: int = 0
    sample: int | None = None
    data_dir: str | None = None  # the data folder of file datasets (None: the packaged data)
    probes: int = 1  # judge-quality probes per problem: pairs with exactly one right candidate

    def eval_spec(self) -> EvalSpec:
        """The sampling request of every problem: N candidates, the judge off."""
        fields = asdict(self)
        fields.pop("probes")
        return EvalSpec(**fields, k=1, judge=False)


def study_limit(dataset: str, limit: int | None, sample: int | None) -> int | None:
    """Problems a study takes: none when ``sample`` draws them, else ``limit``, else every row of a file dataset and
    StudySpec.limit problems of a generated one."""
    if sample is not None:
        return None
    if limit is not None:
        return limit
    return None if dataset in FILE_DATASETS else StudySpec.limit


def counting_judge(problem: str, judge: Judge, calls: list[int]) -> JudgeFn:
    """A selection JudgeFn over a Judge role: compares final answers only and counts calls in ``calls[0]``."""

    async def compare(a: Candidate, b: Candidate) -> Verdict:
        calls[0] += 1
        final_a, final_b = judged_text(a), judged_text(b)
        return (await judge.compare(problem, final_a, final_b)).verdict

    return compare


def counting_pair_judge(problem: str, judge: Judge, calls: list[int]) -> PairJudgeFn:
    """A selection PairJudgeFn over ``Judge.compare_both`` (both orders decided as the service decides them, e.g.
    position-calibrated): compares final answers only and counts two calls per pair in ``calls[0]``."""

    async def compare(a: Candidate, b: Candidate) -> tuple[Verdict, Verdict]:
        calls[0] += 2
        final_a, final_b = judged_text(a), judged_text(b)
        pair = await judge.compare_both(problem, final_a, final_b)
        return pair.ab.verdict, pair.ba.verdict

    return compare


async def linear_judge(candidates: Sequence[Candidate], judge: JudgeFn) -> int:
    """The reference chain: the incumbent meets each next candidate once (A = incumbent); B must win to replace it."""
    best = candidates[0]
    for challenger in candidates[1:]:
        if (await judge(best, challenger)).winner == "B":
            best = challenger
    return best.index


async def pick_k2think(problem: Problem, candidates: Sequence[Candidate], judge: Judge) -> tuple[int, int, str]:
    """k2think's selector (verifier → strict majority → both-order knockout): index, judge calls, method."""
    calls = [0]
    selection = await select(problem.domain, candidates, counting_pair_judge(problem.prompt, judge, calls))
    return selection.selected, calls[0], selection.method


async def pick_linear(problem: Problem, candidates: Sequence[Candidate], judge: Judge) -> tuple[int, int]:
    """The reference linear judge chain: index and judge calls."""
    calls = [0]
    return await linear_judge(candidates, counting_judge(problem.prompt, judge, calls)), calls[0]


async def probe_judge(
    problem: Problem, candidates: Sequence[Candidate], graded: Sequence[CandidateOutcome], judge: Judge, limit: int
) -> list[JudgeProbe]:
    """Judge up to ``limit`` pairs with exactly one right candidate in both orders (right i with wrong j, in order)."""
    right = [c for c, g in zip(candidates, graded) if g.correct]
    wrong = [c for c, g in zip(candidates, graded) if not g.correct and g.answer is not None]
    pairs = list(zip(right, wrong))[:limit]
    compare = counting_pair_judge(problem.prompt, judge, [0])

    async def probe(good: Candidate, bad: Candidate) -> JudgeProbe:
        as_a, as_b = await compare(good, bad)  # (right shown first, wrong shown first)
        return JudgeProbe(right=good.index, wrong=bad.index, right_as_a=as_a.winner, right_as_b=as_b.winner)

    return list(await asyncio.gather(*(probe(good, bad) for good, bad in pairs)))


async def study_problem(problem: Problem, spec: StudySpec, solve: SolveFn, judge: Judge) -> StudyRecord:
    """Sample N candidates once (every one finishes), grade them, let both judged selectors choose among the same
    candidates, and probe the judge on pairs where exactly one is right."""
    start = time.perf_counter()
    result = await solve(spec.eval_spec().request(problem, 0))
    graded = (await asyncio.to_thread(grade_result, problem, 0, result, 0.0)).candidates
    return await judge_candidates(problem, result.candidates, graded, spec, judge, start)


async def judge_candidates(
    problem: Problem,
    candidates: Sequence[Candidate],
    graded: list[CandidateOutcome],
    spec: StudySpec,
    judge: Judge,
    start: float,
) -> StudyRecord:
    """Both judged selectors' picks among the same graded candidates, and the judge probes."""
    position = {c.index: i for i, c in enumerate(candidates)}
    (k2_index, k2_calls, method), (lin_index, lin_calls), probes = await asyncio.gather(
        pick_k2think(problem, candidates, judge),
        pick_linear(problem, candidates, judge),
        probe_judge(problem, candidates, graded, judge, spec.probes),
    )
    return StudyRecord(
        problem_id=problem.id,
        domain=problem.domain,
        candidates=graded,
        texts=[c.text for c in candidates],
        k2think=Pick(index=k2_index, correct=graded[position[k2_index]].correct, judge_calls=k2_calls, method=method),
        linear=Pick(index=lin_index, correct=graded[position[lin_index]].correct, judge_calls=lin_calls),
        probes=probes,
        seconds=time.perf_counter() - start,
    )


def stored_candidates(record: StudyRecord) -> list[Candidate]:
    """A record's candidates rebuilt from its stored texts and graded answers (index = position)."""
    return [
        Candidate(index=i, text=text, answer=outcome.answer, completion_tokens=outcome.completion_tokens)
        for i, (text, outcome) in enumerate(zip(record.texts, record.candidates, strict=True))
    ]


async def replay_study(
    problems: Sequence[Problem],
    spec: StudySpec,
    source: Path,
    records: Sequence[StudyRecord],
    judge: Judge,
    out: Path,
    concurrency: int = 1,
    progress: Progress = NO_PROGRESS,
) -> list[StudyRecord]:
    """Judge again the candidates of ``records``, read from the study in ``source`` (no sampling): every problem whose
    texts are stored, resumable in ``out``. Code candidates are left out (their public-test scores are not stored)."""
    mismatch = config_mismatch(source, spec.eval_spec())
    if mismatch is not None:
        raise ValueError(f"{mismatch}; replay with the settings it was sampled with")
    stored = {r.problem_id: r for r in records if r.error is None}
    if any(r.domain == "code" for r in stored.values()):
        raise ValueError("replay: code candidates need their public-test scores, which a study does not store")
    chosen = [p for p in problems if p.id in stored and stored[p.id].texts]
    if not chosen:
        raise ValueError(f"replay: {source / RESULTS_FILE} holds no candidate texts for these problems")

    async def rejudge(problem: Problem) -> StudyRecord:
        record = stored[problem.id]
        return await judge_candidates(
            problem, stored_candidates(record), record.candidates, spec, judge, time.perf_counter()
        )

    return await study_each(chosen, spec, rejudge, out, concurrency, progress)


async def run_study(
    problems: Sequence[Problem],
    spec: StudySpec,
    solve: SolveFn,
    judge: Judge,
    out: Path,
    concurrency: int = 1,
    progress: Progress = NO_PROGRESS,
) -> list[StudyRecord]:
    """Study every problem not yet done in ``out/results.jsonl`` (errors are retried); return all records."""
    return await study_each(problems, spec, lambda p: study_problem(p, spec, solve, judge), out, concurrency, progress)


async def study_each(
    problems: Sequence[Problem],
    spec: StudySpec,
    work: Callable[[Problem], Awaitable[StudyRecord]],
    out: Path,
    concurrency: int,
    progress: Progress,
) -> list[StudyRecord]:
    """``work`` on every problem not yet done in ``out/results.jsonl`` (errors are retried); return all records."""
    check_config(out, spec.eval_spec())
    path = out / RESULTS_FILE
    drop_torn_tail(path)
    done = {r.problem_id: r for r in read_records(path, StudyRecord)}
    pending = [p for p in problems if p.id not in done or done[p.id].error is not None]
    progress.add(len(problems), len(problems) - len(pending))

    def failed(problem: Problem, error: str) -> StudyRecord:
        return StudyRecord(problem_id=problem.id, domain=problem.domain, error=error)

    fresh = await run_resumable(pending, work, failed, path, concurrency, progress)
    done |= {r.problem_id: r for r in fresh}
    return [done[p.id] for p in problems if p.id in done]


def per_problem_scores(records: Sequence[StudyRecord]) -> dict[str, list[float]]:
    """Each selector's score on each problem (pass@1: the share of right candidates; majority: its tie-aware credit)."""
    same = partial(same_answer, records[0].domain if records else "math")
    scores: dict[str, list[float]] = {name: [] for name in SELECTORS}
    for r in records:
        correct, answers = [c.correct for c in r.candidates], [c.answer for c in r.candidates]
        scores["pass@1"].append(metrics.mean_or_zero([float(c) for c in correct]))
        scores["majority@N"].append(metrics.majority_vote(answers, correct, same))
        scores["k2think"].append(float(r.k2think.correct))  # type: ignore[union-attr]
        scores["linear judge"].append(float(r.linear.correct))  # type: ignore[union-attr]
        scores["oracle"].append(float(any(correct)))
    return scores


def judge_quality(records: Sequence[StudyRecord]) -> dict[str, Any]:
    """How often the judge picks the right one of a right/wrong pair: per order and with both orders combined."""
    picks = [probe.picks_right for r in records for probe in r.probes]
    share = lambda i: metrics.mean_or_zero([float(p[i]) for p in picks]) if picks else None  # noqa: E731
    return {"pairs": len(picks), "right_shown_as_a": share(0), "right_shown_as_b": share(1), "both_orders": share(2)}


def summarize_study(records: Sequence[StudyRecord], spec: StudySpec) -> dict[str, Any]:
    """Accuracy with a bootstrap interval, gap closed and judge calls per selector, and the judge's quality, over
    the problems studied without error."""
    ok = [r for r in records if r.error is None and r.k2think is not None and r.linear is not None]
    scores = per_problem_scores(ok)
    accuracy = {name: metrics.mean_or_zero(values) for name, values in scores.items()}
    pass1, ceiling = accuracy["pass@1"], accuracy["oracle"]
    calls = {
        "k2think": metrics.mean_or_zero([r.k2think.judge_calls for r in ok]),  # type: ignore[union-attr]
        "linear judge": metrics.mean_or_zero([r.linear.judge_calls for r in ok]),  # type: ignore[union-attr]
    }
    return {
        **asdict(spec),
        "problems": len(ok),
        "errors": len(records) - len(ok),
        "selectors": {
            name: {
                "accuracy": accuracy[name],
                "ci95": list(metrics.bootstrap_ci(scores[name])) if ok else None,
                "gap_closed": metrics.gap_closed(accuracy[name], pass1, ceiling),
                "gap_closed_ci95": _gap_interval(scores, name),
                "vs_majority": _vs_majority(scores, name),
                "judge_calls_per_problem": calls.get(name, 0.0),
            }
            for name in SELECTORS
        },
        "judge_quality": judge_quality(ok),
    }


def _gap_interval(scores: dict[str, list[float]], name: str) -> list[float] | None:
    """The bootstrap interval of a selector's share of the pass@1 → oracle gap (None for the two ends, or no gap)."""
    if name in ("pass@1", "oracle") or not scores[name]:
        return None
    ci = metrics.bootstrap_gap_ci(scores[name], scores["pass@1"], scores["oracle"])
    return list(ci) if ci else None


def _vs_majority(scores: dict[str, list[float]], name: str) -> dict[str, Any] | None:
    """A judged selector's accuracy minus majority@N's on the same problems, with a paired bootstrap interval (the
    floor a selector must beat); None for the other selectors."""
    if name not in ("k2think", "linear judge") or not scores[name]:
        return None
    differences = metrics.paired_differences(scores[name], scores["majority@N"])
    return {"difference": metrics.mean_or_zero(differences), "ci95": list(metrics.bootstrap_ci(differences))}


def before_replay(replayed: Sequence[StudyRecord], stored: Sequence[StudyRecord]) -> dict[str, Any]:
    """k2think's accuracy on the replayed problems with the judge the candidates were studied with, and the replay's
    gain over it (points as a fraction, paired bootstrap interval)."""
    before = {r.problem_id: r.k2think for r in stored if r.error is None and r.k2think is not None}
    pairs = [
        (float(r.k2think.correct), float(before[r.problem_id].correct))
        for r in replayed
        if r.error is None and r.k2think is not None and r.problem_id in before
    ]
    differences = [now - then for now, then in pairs]
    return {
        "problems": len(pairs),
        "k2think_before": metrics.mean_or_zero([then for _, then in pairs]),
        "k2think_replayed": metrics.mean_or_zero([now for now, _ in pairs]),
        "difference": metrics.mean_or_zero(differences),
        "ci95": list(metrics.bootstrap_ci(differences)) if pairs else None,
    }


async def run_selection_report(
    spec: StudySpec,
    solve: SolveFn,
    judge: Judge,
    out: Path,
    concurrency: int = 1,
    progress: Progress = NO_PROGRESS,
    *,
    replay_from: Path | None = None,
    judge_calibrated: bool = False,
) -> dict[str, Any]:
    """Run the study on ``spec.dataset`` (resumable under ``out/selection/``), or only its judging over the
    candidates stored under ``replay_from``; write the report, return the summary."""
    problems = spec.eval_spec().problems()
    if replay_from is None:
        records = await run_study(problems, spec, solve, judge, out / "selection", concurrency, progress)
    else:
        stored = read_records(replay_from / RESULTS_FILE, StudyRecord)
        records = await replay_study(
            problems, spec, replay_from, stored, judge, out / "selection", concurrency, progress
        )
    summary = summarize_study(records, spec)
    summary |= {"judge_calibrated": judge_calibrated, "replayed_from": replay_from and replay_from.as_posix()}
    if replay_from is not None:
        summary["before_replay"] = before_replay(records, stored)
    write_selection(out, summary)
    return summary
