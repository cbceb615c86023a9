from services.gen.k2think.v1 import common_pb2 as _common_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CompareRequest(_message.Message):
    __slots__ = ("problem", "a", "b")
    PROBLEM_FIELD_NUMBER: _ClassVar[int]
    A_FIELD_NUMBER: _ClassVar[int]
    B_FIELD_NUMBER: _ClassVar[int]
    problem: str
    a: str
    b: str
    def __init__(self, problem: _Optional[str] = ..., a: _Optional[str] = ..., b: _Optional[str] = ...) -> None: ...

class CompareResponse(_message.Message):
    __slots__ = ("verdict", "error", "usage")
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    verdict: _common_pb2.Verdict
    error: str
    usage: _common_pb2.Usage
    def __init__(self, verdict: _Optional[_Union[_common_pb2.Verdict, _Mapping]] = ..., error: _Optional[str] = ..., usage: _Optional[_Union[_common_pb2.Usage, _Mapping]] = ...) -> None: ...

class CompareBothResponse(_message.Message):
    __slots__ = ("ab", "ba")
    AB_FIELD_NUMBER: _ClassVar[int]
    BA_FIELD_NUMBER: _ClassVar[int]
    ab: CompareResponse
    ba: CompareResponse
    def __init__(self, ab: _Optional[_Union[CompareResponse, _Mapping]] = ..., ba: _Optional[_Union[CompareResponse, _Mapping]] = ...) -> None: ...
