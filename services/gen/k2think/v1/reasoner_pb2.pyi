from services.gen.k2think.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SolveRequest(_message.Message):
    __slots__ = ("problem", "n", "plan", "judge", "params", "domain", "public_tests", "adaptive", "token_budget", "soft_deadline_s", "hard_deadline_s", "demonstrations")
    PROBLEM_FIELD_NUMBER: _ClassVar[int]
    N_FIELD_NUMBER: _ClassVar[int]
    PLAN_FIELD_NUMBER: _ClassVar[int]
    JUDGE_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    DOMAIN_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_TESTS_FIELD_NUMBER: _ClassVar[int]
    ADAPTIVE_FIELD_NUMBER: _ClassVar[int]
    TOKEN_BUDGET_FIELD_NUMBER: _ClassVar[int]
    SOFT_DEADLINE_S_FIELD_NUMBER: _ClassVar[int]
    HARD_DEADLINE_S_FIELD_NUMBER: _ClassVar[int]
    DEMONSTRATIONS_FIELD_NUMBER: _ClassVar[int]
    problem: str
    n: int
    plan: bool
    judge: bool
    params: _common_pb2.SamplingParams
    domain: str
    public_tests: str
    adaptive: bool
    token_budget: int
    soft_deadline_s: float
    hard_deadline_s: float
    demonstrations: _containers.RepeatedCompositeFieldContainer[Demonstration]
    def __init__(self, problem: _Optional[str] = ..., n: _Optional[int] = ..., plan: _Optional[bool] = ..., judge: _Optional[bool] = ..., params: _Optional[_Union[_common_pb2.SamplingParams, _Mapping]] = ..., domain: _Optional[str] = ..., public_tests: _Optional[str] = ..., adaptive: _Optional[bool] = ..., token_budget: _Optional[int] = ..., soft_deadline_s: _Optional[float] = ..., hard_deadline_s: _Optional[float] = ..., demonstrations: _Optional[_Iterable[_Union[Demonstration, _Mapping]]] = ...) -> None: ...

class Demonstration(_message.Message):
    __slots__ = ("problem", "response")
    PROBLEM_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_FIELD_NUMBER: _ClassVar[int]
    problem: str
    response: str
    def __init__(self, problem: _Optional[str] = ..., response: _Optional[str] = ...) -> None: ...

class Candidate(_message.Message):
    __slots__ = ("index", "text", "answer", "finish_reason", "prompt_tokens", "completion_tokens", "seconds", "verifier_score")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    ANSWER_FIELD_NUMBER: _ClassVar[int]
    FINISH_REASON_FIELD_NUMBER: _ClassVar[int]
    PROMPT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    COMPLETION_TOKENS_FIELD_NUMBER: _ClassVar[int]
    SECONDS_FIELD_NUMBER: _ClassVar[int]
    VERIFIER_SCORE_FIELD_NUMBER: _ClassVar[int]
    index: int
    text: str
    answer: str
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    seconds: float
    verifier_score: float
    def __init__(self, index: _Optional[int] = ..., text: _Optional[str] = ..., answer: _Optional[str] = ..., finish_reason: _Optional[str] = ..., prompt_tokens: _Optional[int] = ..., completion_tokens: _Optional[int] = ..., seconds: _Optional[float] = ..., verifier_score: _Optional[float] = ...) -> None: ...

class Comparison(_message.Message):
    __slots__ = ("round", "a", "b", "verdict_ab", "verdict_ba", "winner", "tiebreak")
    ROUND_FIELD_NUMBER: _ClassVar[int]
    A_FIELD_NUMBER: _ClassVar[int]
    B_FIELD_NUMBER: _ClassVar[int]
    VERDICT_AB_FIELD_NUMBER: _ClassVar[int]
    VERDICT_BA_FIELD_NUMBER: _ClassVar[int]
    WINNER_FIELD_NUMBER: _ClassVar[int]
    TIEBREAK_FIELD_NUMBER: _ClassVar[int]
    round: int
    a: int
    b: int
    verdict_ab: _common_pb2.Verdict
    verdict_ba: _common_pb2.Verdict
    winner: int
    tiebreak: str
    def __init__(self, round: _Optional[int] = ..., a: _Optional[int] = ..., b: _Optional[int] = ..., verdict_ab: _Optional[_Union[_common_pb2.Verdict, _Mapping]] = ..., verdict_ba: _Optional[_Union[_common_pb2.Verdict, _Mapping]] = ..., winner: _Optional[int] = ..., tiebreak: _Optional[str] = ...) -> None: ...

class AnswerGroup(_message.Message):
    __slots__ = ("indices",)
    INDICES_FIELD_NUMBER: _ClassVar[int]
    indices: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, indices: _Optional[_Iterable[int]] = ...) -> None: ...

class Selection(_message.Message):
    __slots__ = ("method", "selected", "groups", "comparisons", "reason")
    METHOD_FIELD_NUMBER: _ClassVar[int]
    SELECTED_FIELD_NUMBER: _ClassVar[int]
    GROUPS_FIELD_NUMBER: _ClassVar[int]
    COMPARISONS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    method: str
    selected: int
    groups: _containers.RepeatedCompositeFieldContainer[AnswerGroup]
    comparisons: _containers.RepeatedCompositeFieldContainer[Comparison]
    reason: str
    def __init__(self, method: _Optional[str] = ..., selected: _Optional[int] = ..., groups: _Optional[_Iterable[_Union[AnswerGroup, _Mapping]]] = ..., comparisons: _Optional[_Iterable[_Union[Comparison, _Mapping]]] = ..., reason: _Optional[str] = ...) -> None: ...

class SolveResult(_message.Message):
    __slots__ = ("answer", "final_text", "plan", "plan_error", "candidates", "selected", "selection", "usage", "timings_s", "deadline")
    class UsageEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _common_pb2.Usage
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_common_pb2.Usage, _Mapping]] = ...) -> None: ...
    class TimingsSEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    ANSWER_FIELD_NUMBER: _ClassVar[int]
    FINAL_TEXT_FIELD_NUMBER: _ClassVar[int]
    PLAN_FIELD_NUMBER: _ClassVar[int]
    PLAN_ERROR_FIELD_NUMBER: _ClassVar[int]
    CANDIDATES_FIELD_NUMBER: _ClassVar[int]
    SELECTED_FIELD_NUMBER: _ClassVar[int]
    SELECTION_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    TIMINGS_S_FIELD_NUMBER: _ClassVar[int]
    DEADLINE_FIELD_NUMBER: _ClassVar[int]
    answer: str
    final_text: str
    plan: _common_pb2.Plan
    plan_error: str
    candidates: _containers.RepeatedCompositeFieldContainer[Candidate]
    selected: int
    selection: Selection
    usage: _containers.MessageMap[str, _common_pb2.Usage]
    timings_s: _containers.ScalarMap[str, float]
    deadline: str
    def __init__(self, answer: _Optional[str] = ..., final_text: _Optional[str] = ..., plan: _Optional[_Union[_common_pb2.Plan, _Mapping]] = ..., plan_error: _Optional[str] = ..., candidates: _Optional[_Iterable[_Union[Candidate, _Mapping]]] = ..., selected: _Optional[int] = ..., selection: _Optional[_Union[Selection, _Mapping]] = ..., usage: _Optional[_Mapping[str, _common_pb2.Usage]] = ..., timings_s: _Optional[_Mapping[str, float]] = ..., deadline: _Optional[str] = ...) -> None: ...

class PlanEvent(_message.Message):
    __slots__ = ("plan", "error", "usage")
    PLAN_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    plan: _common_pb2.Plan
    error: str
    usage: _common_pb2.Usage
    def __init__(self, plan: _Optional[_Union[_common_pb2.Plan, _Mapping]] = ..., error: _Optional[str] = ..., usage: _Optional[_Union[_common_pb2.Usage, _Mapping]] = ...) -> None: ...

class CandidateDeltaEvent(_message.Message):
    __slots__ = ("index", "text")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    index: int
    text: str
    def __init__(self, index: _Optional[int] = ..., text: _Optional[str] = ...) -> None: ...

class CandidateDoneEvent(_message.Message):
    __slots__ = ("candidate",)
    CANDIDATE_FIELD_NUMBER: _ClassVar[int]
    candidate: Candidate
    def __init__(self, candidate: _Optional[_Union[Candidate, _Mapping]] = ...) -> None: ...

class VerdictEvent(_message.Message):
    __slots__ = ("comparison",)
    COMPARISON_FIELD_NUMBER: _ClassVar[int]
    comparison: Comparison
    def __init__(self, comparison: _Optional[_Union[Comparison, _Mapping]] = ...) -> None: ...

class SolveEvent(_message.Message):
    __slots__ = ("plan", "candidate_delta", "candidate_done", "verdict", "final")
    PLAN_FIELD_NUMBER: _ClassVar[int]
    CANDIDATE_DELTA_FIELD_NUMBER: _ClassVar[int]
    CANDIDATE_DONE_FIELD_NUMBER: _ClassVar[int]
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    FINAL_FIELD_NUMBER: _ClassVar[int]
    plan: PlanEvent
    candidate_delta: CandidateDeltaEvent
    candidate_done: CandidateDoneEvent
    verdict: VerdictEvent
    final: SolveResult
    def __init__(self, plan: _Optional[_Union[PlanEvent, _Mapping]] = ..., candidate_delta: _Optional[_Union[CandidateDeltaEvent, _Mapping]] = ..., candidate_done: _Optional[_Union[CandidateDoneEvent, _Mapping]] = ..., verdict: _Optional[_Union[VerdictEvent, _Mapping]] = ..., final: _Optional[_Union[SolveResult, _Mapping]] = ...) -> None: ...
