"""Protobuf messages <-> k2core types; request fields that fail conversion raise ValidationError naming them."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, TypeVar, get_args

from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message as ProtoMessage
from pydantic import BaseModel

from k2core.config import Settings
from k2core.errors import TooLargeError, ValidationError
from k2core.pipeline import (
    CandidateDeltaEvent,
    CandidateDoneEvent,
    FinalEvent,
    PlanEvent,
    SolveEvent,
    SolveRequest,
    VerdictEvent,
)
from k2core.roles import IndexedDelta, JudgeOutcome, PairOutcome, PlanOutcome
from k2core.types import (
    Candidate,
    ChatRole,
    Comparison,
    Completion,
    Delta,
    Demonstration,
    Message,
    SamplingParams,
    SolveResult,
)
from k2core.validation import validate_json_depth
from services.gen.k2think.v1 import (
    common_pb2,
    judge_pb2,
    planner_pb2,
    reasoner_pb2,
    solver_pb2,
)

M = TypeVar("M", bound=BaseModel)
P = TypeVar("P", bound=ProtoMessage)
_ROLES = get_args(ChatRole)


def to_proto(model: BaseModel, proto: type[P]) -> P:
    """A proto from a model whose fields carry the same names (None leaves a field unset)."""
    return _filled(proto(), model.model_dump(mode="json", exclude_none=True, exclude={"kind"}))


def from_proto(message: ProtoMessage, model: type[M]) -> M:
    """A model from a proto whose fields carry the same names; unset ``optional`` fields become None."""
    return model.model_validate(_as_dict(message))


# The two walks below replace json_format.ParseDict / MessageToDict (pure Python, a tenth of a request's time
# through the services): these protos have no enums, bytes, 32-bit floats or well-known types, so the field
# values map one to one; the round-trip tests in tests/services/test_convert.py hold them to that.
def _filled(message: P, data: dict[str, Any]) -> P:
    """``message`` with ``data``'s fields set (nested dicts become messages, lists repeated fields, dicts maps)."""
    fields = message.DESCRIPTOR.fields_by_name
    for name, value in data.items():
        field = fields.get(name)
        if field is None:
            raise json_format.ParseError(f"message {message.DESCRIPTOR.full_name} has no field named {name!r}")
        if value is None:
            continue
        if field.message_type is None:
            if field.is_repeated:
                getattr(message, name).extend(value)
            else:
                setattr(message, name, value)
            continue
        target: Any = getattr(message, name)
        if field.message_type.GetOptions().map_entry:
            nested = field.message_type.fields_by_name["value"].message_type is not None
            for key, item in value.items():
                if nested:
                    _filled(target[key], item)
                else:
                    target[key] = item
        elif field.is_repeated:
            for item in value:
                _filled(target.add(), item)
        else:
            _filled(target, value).SetInParent()
    return message


def _as_dict(message: ProtoMessage) -> dict[str, Any]:
    """Every field, zero values included; an unset ``optional`` field is None, an unset message field absent."""
    data: dict[str, Any] = {}
    for field in message.DESCRIPTOR.fields:
        name = field.name
        if field.has_presence and not message.HasField(name):
            oneof = field.containing_oneof
            if oneof is not None and oneof.name == f"_{name}":  # a proto3 ``optional`` field left unset
                data[name] = None
            continue
        value = getattr(message, name)
        if field.message_type is None:
            data[name] = list(value) if field.is_repeated else value
        elif field.message_type.GetOptions().map_entry:
            nested = field.message_type.fields_by_name["value"].message_type is not None
            data[name] = {key: _as_dict(item) if nested else item for key, item in value.items()}
        elif field.is_repeated:
            data[name] = [_as_dict(item) for item in value]
        else:
            data[name] = _as_dict(value)
    return data


def check_size(text: str, field: str, settings: Settings, allowance: int = 0) -> None:
    """Raise TooLargeError naming ``field`` when ``text`` exceeds ``limits.max_prompt_bytes`` plus ``allowance``."""
    size, limit = len(text.encode("utf-8")), settings.limits.max_prompt_bytes + allowance
    if size > limit:
        raise TooLargeError(field, f"is {size} bytes; the limit is {limit} (limits.max_prompt_bytes)")


def undecodable(data: bytes, descriptor: Descriptor) -> ValidationError:
    """Why bytes that failed to parse as ``descriptor``'s message are refused, naming the bad field when found."""
    field = invalid_utf8_field(data, descriptor)
    if field is not None:
        return ValidationError(field, "is not valid UTF-8")
    return ValidationError("request", f"is not a valid {descriptor.full_name} message")


def invalid_utf8_field(data: bytes, descriptor: Descriptor, prefix: str = "") -> str | None:
    """The path (``messages[1].content``) of the first string field whose bytes are not UTF-8 (from the wire format)."""
    pos, seen = 0, dict[int, int]()
    try:
        while pos < len(data):
            key, pos = _varint(data, pos)
            number, wire = key >> 3, key & 7
            if wire == 0:
                pos = _varint(data, pos)[1]
            elif wire in (1, 5):
                pos += 8 if wire == 1 else 4
            elif wire != 2:
                return None
            else:
                size, pos = _varint(data, pos)
                chunk, pos = data[pos : pos + size], pos + size
                field = descriptor.fields_by_number.get(number)
                if field is None or field.type not in (FieldDescriptor.TYPE_STRING, FieldDescriptor.TYPE_MESSAGE):
                    continue
                name = prefix + field.name
                if field.is_repeated:
                    seen[number] = seen.get(number, -1) + 1
                    name += f"[{seen[number]}]"
                if field.type == FieldDescriptor.TYPE_MESSAGE:
                    found = invalid_utf8_field(chunk, field.message_type, name + ".")
                    if found is not None:
                        return found
                elif not _is_utf8(chunk):
                    return name
    except IndexError:
        return None
    return None


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[pos]
        value |= (byte & 0x7F) << shift
        pos, shift = pos + 1, shift + 7
        if not byte & 0x80:
            return value, pos


def _is_utf8(chunk: bytes) -> bool:
    try:
        chunk.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


# Messages and sampling


def messages_to_proto(messages: list[Message]) -> list[common_pb2.Message]:
    return [common_pb2.Message(role=m.role, content=m.content) for m in messages]


def messages_from_proto(messages: Any, settings: Settings) -> list[Message]:
    """Validated messages: at least one, known roles, within the prompt size limit."""
    if not messages:
        raise ValidationError("messages", "must not be empty")
    for i, m in enumerate(messages):
        if m.role not in _ROLES:
            raise ValidationError(f"messages[{i}].role", f"must be one of {', '.join(_ROLES)}, got {m.role!r}")
    check_size("".join(m.content for m in messages), "messages", settings, settings.limits.prompt_overhead_bytes)
    return [Message(role=m.role, content=m.content) for m in messages]


def params_to_proto(params: SamplingParams) -> common_pb2.SamplingParams:
    schema = json.dumps(params.json_schema) if params.json_schema is not None else ""
    return common_pb2.SamplingParams(
        temperature=params.temperature,
        top_p=params.top_p,
        max_tokens=params.max_tokens,
        seed=params.seed,
        stop=params.stop,
        json_schema=schema,
    )


def default_params(settings: Settings) -> SamplingParams:
    """Sampling defaults of ``settings.pipeline``."""
    p = settings.pipeline
    return SamplingParams(temperature=p.temperature, top_p=p.top_p, max_tokens=p.max_tokens, seed=p.seed)


def params_from_proto(proto: common_pb2.SamplingParams, defaults: SamplingParams, settings: Settings) -> SamplingParams:
    """Sampling parameters; fields the proto leaves unset keep ``defaults``; ``json_schema`` must be a JSON object."""
    update: dict[str, Any] = {
        k: getattr(proto, k) for k in ("temperature", "top_p", "max_tokens", "seed") if proto.HasField(k)
    }
    if proto.stop:
        update["stop"] = list(proto.stop)
    if proto.json_schema:
        update["json_schema"] = parse_json_schema(proto.json_schema, settings, "params.json_schema")
    return defaults.model_copy(update=update)


def parse_json_schema(text: str, settings: Settings, field: str) -> dict[str, Any]:
    """A JSON object from ``text``, within the size limit and nested at most ``limits.max_json_schema_depth`` deep."""
    check_size(text, field, settings)
    limit = settings.limits.max_json_schema_depth
    try:
        schema = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationError(field, f"must be JSON: {exc.msg}") from exc
    except RecursionError as exc:
        raise ValidationError(field, f"nests deeper than {limit} levels (limits.max_json_schema_depth)") from exc
    if not isinstance(schema, dict):
        raise ValidationError(field, "must be a JSON object")
    validate_json_depth(schema, limit, field)
    return schema


# Solver


def deltas_to_proto(items: Sequence[IndexedDelta], batched: bool) -> list[solver_pb2.GenerateResponse]:
    """Streamed messages for ``items``: one CandidateDeltas message, or one CandidateDelta message each."""
    deltas = [
        solver_pb2.CandidateDelta(
            index=item.index,
            delta=common_pb2.Delta(
                text=item.delta.text,
                finish_reason=item.delta.finish_reason or "",
                prompt_tokens=item.delta.prompt_tokens,
                completion_tokens=item.delta.completion_tokens,
            ),
        )
        for item in items
    ]
    if batched:
        return [solver_pb2.GenerateResponse(deltas=solver_pb2.CandidateDeltas(deltas=deltas))]
    return [solver_pb2.GenerateResponse(delta=delta) for delta in deltas]


def delta_from_proto(proto: common_pb2.Delta) -> Delta:
    return Delta(
        text=proto.text,
        finish_reason=proto.finish_reason or None,
        prompt_tokens=proto.prompt_tokens,
        completion_tokens=proto.completion_tokens,
    )


def completion_to_proto(index: int, completion: Completion) -> solver_pb2.GenerateResponse:
    proto = to_proto(completion, common_pb2.Completion)
    return solver_pb2.GenerateResponse(completion=solver_pb2.CandidateCompletion(index=index, completion=proto))


# Planner and judge


def plan_outcome_to_proto(outcome: PlanOutcome) -> planner_pb2.PlanResponse:
    return to_proto(outcome, planner_pb2.PlanResponse)


def plan_outcome_from_proto(proto: planner_pb2.PlanResponse) -> PlanOutcome:
    return from_proto(proto, PlanOutcome)


def judge_outcome_to_proto(outcome: JudgeOutcome) -> judge_pb2.CompareResponse:
    return to_proto(outcome, judge_pb2.CompareResponse)


def judge_outcome_from_proto(proto: judge_pb2.CompareResponse) -> JudgeOutcome:
    return from_proto(proto, JudgeOutcome)


def pair_outcome_to_proto(pair: PairOutcome) -> judge_pb2.CompareBothResponse:
    return judge_pb2.CompareBothResponse(ab=judge_outcome_to_proto(pair.ab), ba=judge_outcome_to_proto(pair.ba))


def pair_outcome_from_proto(proto: judge_pb2.CompareBothResponse) -> PairOutcome:
    return PairOutcome(ab=judge_outcome_from_proto(proto.ab), ba=judge_outcome_from_proto(proto.ba))


# Reasoner

_REQUEST_OPTIONALS = (
    "n",
    "plan",
    "judge",
    "public_tests",
    "adaptive",
    "token_budget",
    "soft_deadline_s",
    "hard_deadline_s",
)


def solve_request_to_proto(request: SolveRequest) -> reasoner_pb2.SolveRequest:
    fields = {name: getattr(request, name) for name in _REQUEST_OPTIONALS}
    demonstrations = [
        reasoner_pb2.Demonstration(problem=d.problem, response=d.response) for d in request.demonstrations
    ]
    return reasoner_pb2.SolveRequest(
        problem=request.problem,
        domain=request.domain,
        params=params_to_proto(request.params),
        demonstrations=demonstrations,
        **fields,
    )


def solve_request_from_proto(proto: reasoner_pb2.SolveRequest, settings: Settings) -> SolveRequest:
    """A SolveRequest; unset fields take ``settings.pipeline`` defaults (validation is the pipeline's)."""
    overrides: dict[str, Any] = {name: getattr(proto, name) for name in _REQUEST_OPTIONALS if proto.HasField(name)}
    request = SolveRequest.from_settings(proto.problem, settings, domain=proto.domain or None, **overrides)
    demonstrations = [Demonstration(problem=d.problem, response=d.response) for d in proto.demonstrations]
    return request.model_copy(
        update={"params": params_from_proto(proto.params, request.params, settings), "demonstrations": demonstrations}
    )


def solve_result_to_proto(result: SolveResult) -> reasoner_pb2.SolveResult:
    data = result.model_dump(mode="json", exclude_none=True)
    data["selection"]["groups"] = [{"indices": group} for group in data["selection"]["groups"]]
    return _filled(reasoner_pb2.SolveResult(), data)


def solve_result_from_proto(proto: reasoner_pb2.SolveResult) -> SolveResult:
    data = _as_dict(proto)
    data["selection"]["groups"] = [group["indices"] for group in data["selection"]["groups"]]
    return SolveResult.model_validate({"answer": None, "plan": None, **data})


def event_to_proto(event: SolveEvent) -> reasoner_pb2.SolveEvent:
    match event:
        case CandidateDeltaEvent():
            return reasoner_pb2.SolveEvent(
                candidate_delta=reasoner_pb2.CandidateDeltaEvent(index=event.index, text=event.text)
            )
        case PlanEvent():
            return reasoner_pb2.SolveEvent(plan=to_proto(event, reasoner_pb2.PlanEvent))
        case CandidateDoneEvent():
            candidate = to_proto(event.candidate, reasoner_pb2.Candidate)
            return reasoner_pb2.SolveEvent(candidate_done=reasoner_pb2.CandidateDoneEvent(candidate=candidate))
        case VerdictEvent():
            comparison = to_proto(event.comparison, reasoner_pb2.Comparison)
            return reasoner_pb2.SolveEvent(verdict=reasoner_pb2.VerdictEvent(comparison=comparison))
        case FinalEvent():
            return reasoner_pb2.SolveEvent(final=solve_result_to_proto(event.result))
    raise TypeError(f"unknown event {event!r}")


def event_from_proto(proto: reasoner_pb2.SolveEvent) -> SolveEvent:
    match proto.WhichOneof("event"):
        case "candidate_delta":
            return CandidateDeltaEvent(index=proto.candidate_delta.index, text=proto.candidate_delta.text)
        case "plan":
            return from_proto(proto.plan, PlanEvent)
        case "candidate_done":
            return CandidateDoneEvent(candidate=from_proto(proto.candidate_done.candidate, Candidate))
        case "verdict":
            return VerdictEvent(comparison=from_proto(proto.verdict.comparison, Comparison))
        case "final":
            return FinalEvent(result=solve_result_from_proto(proto.final))
    raise ValueError(f"empty or unknown event {proto!r}")
