from services.gen.k2think.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GenerateRequest(_message.Message):
    __slots__ = ("messages", "params", "n", "stream", "batch_deltas")
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    N_FIELD_NUMBER: _ClassVar[int]
    STREAM_FIELD_NUMBER: _ClassVar[int]
    BATCH_DELTAS_FIELD_NUMBER: _ClassVar[int]
    messages: _containers.RepeatedCompositeFieldContainer[_common_pb2.Message]
    params: _common_pb2.SamplingParams
    n: int
    stream: bool
    batch_deltas: bool
    def __init__(self, messages: _Optional[_Iterable[_Union[_common_pb2.Message, _Mapping]]] = ..., params: _Optional[_Union[_common_pb2.SamplingParams, _Mapping]] = ..., n: _Optional[int] = ..., stream: _Optional[bool] = ..., batch_deltas: _Optional[bool] = ...) -> None: ...

class CandidateDelta(_message.Message):
    __slots__ = ("index", "delta")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    DELTA_FIELD_NUMBER: _ClassVar[int]
    index: int
    delta: _common_pb2.Delta
    def __init__(self, index: _Optional[int] = ..., delta: _Optional[_Union[_common_pb2.Delta, _Mapping]] = ...) -> None: ...

class CandidateDeltas(_message.Message):
    __slots__ = ("deltas",)
    DELTAS_FIELD_NUMBER: _ClassVar[int]
    deltas: _containers.RepeatedCompositeFieldContainer[CandidateDelta]
    def __init__(self, deltas: _Optional[_Iterable[_Union[CandidateDelta, _Mapping]]] = ...) -> None: ...

class CandidateCompletion(_message.Message):
    __slots__ = ("index", "completion")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    COMPLETION_FIELD_NUMBER: _ClassVar[int]
    index: int
    completion: _common_pb2.Completion
    def __init__(self, index: _Optional[int] = ..., completion: _Optional[_Union[_common_pb2.Completion, _Mapping]] = ...) -> None: ...

class GenerateDone(_message.Message):
    __slots__ = ("usage",)
    USAGE_FIELD_NUMBER: _ClassVar[int]
    usage: _common_pb2.Usage
    def __init__(self, usage: _Optional[_Union[_common_pb2.Usage, _Mapping]] = ...) -> None: ...

class GenerateResponse(_message.Message):
    __slots__ = ("delta", "completion", "done", "deltas")
    DELTA_FIELD_NUMBER: _ClassVar[int]
    COMPLETION_FIELD_NUMBER: _ClassVar[int]
    DONE_FIELD_NUMBER: _ClassVar[int]
    DELTAS_FIELD_NUMBER: _ClassVar[int]
    delta: CandidateDelta
    completion: CandidateCompletion
    done: GenerateDone
    deltas: CandidateDeltas
    def __init__(self, delta: _Optional[_Union[CandidateDelta, _Mapping]] = ..., completion: _Optional[_Union[CandidateCompletion, _Mapping]] = ..., done: _Optional[_Union[GenerateDone, _Mapping]] = ..., deltas: _Optional[_Union[CandidateDeltas, _Mapping]] = ...) -> None: ...
