from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Command(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CMD_UNKNOWN: _ClassVar[Command]
    CMD_SUB: _ClassVar[Command]
    CMD_UNSUB: _ClassVar[Command]
    CMD_NOTIFY: _ClassVar[Command]

class DispatchType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DISPATCH_UNDEFINED: _ClassVar[DispatchType]
    DISPATCH_DIRECT: _ClassVar[DispatchType]
    DISPATCH_BROADCAST: _ClassVar[DispatchType]

class ContentType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CONTENT_UNDEFINED: _ClassVar[ContentType]
    CONTENT_JSON: _ClassVar[ContentType]
    CONTENT_PROTO: _ClassVar[ContentType]
CMD_UNKNOWN: Command
CMD_SUB: Command
CMD_UNSUB: Command
CMD_NOTIFY: Command
DISPATCH_UNDEFINED: DispatchType
DISPATCH_DIRECT: DispatchType
DISPATCH_BROADCAST: DispatchType
CONTENT_UNDEFINED: ContentType
CONTENT_JSON: ContentType
CONTENT_PROTO: ContentType

class Sub(_message.Message):
    __slots__ = ("topics",)
    TOPICS_FIELD_NUMBER: _ClassVar[int]
    topics: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, topics: _Optional[_Iterable[str]] = ...) -> None: ...

class SubResponse(_message.Message):
    __slots__ = ("success", "fail", "current")
    class Fail(_message.Message):
        __slots__ = ("topic", "reason")
        TOPIC_FIELD_NUMBER: _ClassVar[int]
        REASON_FIELD_NUMBER: _ClassVar[int]
        topic: str
        reason: str
        def __init__(self, topic: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...
    SUCCESS_FIELD_NUMBER: _ClassVar[int]
    FAIL_FIELD_NUMBER: _ClassVar[int]
    CURRENT_FIELD_NUMBER: _ClassVar[int]
    success: _containers.RepeatedScalarFieldContainer[str]
    fail: _containers.RepeatedCompositeFieldContainer[SubResponse.Fail]
    current: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, success: _Optional[_Iterable[str]] = ..., fail: _Optional[_Iterable[_Union[SubResponse.Fail, _Mapping]]] = ..., current: _Optional[_Iterable[str]] = ...) -> None: ...

class Unsub(_message.Message):
    __slots__ = ("topics",)
    TOPICS_FIELD_NUMBER: _ClassVar[int]
    topics: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, topics: _Optional[_Iterable[str]] = ...) -> None: ...

class UnsubResponse(_message.Message):
    __slots__ = ("current",)
    CURRENT_FIELD_NUMBER: _ClassVar[int]
    current: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, current: _Optional[_Iterable[str]] = ...) -> None: ...

class Notification(_message.Message):
    __slots__ = ("topic", "content_type", "dispatch_type", "data")
    TOPIC_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    DISPATCH_TYPE_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    topic: str
    content_type: ContentType
    dispatch_type: DispatchType
    data: bytes
    def __init__(self, topic: _Optional[str] = ..., content_type: _Optional[_Union[ContentType, str]] = ..., dispatch_type: _Optional[_Union[DispatchType, str]] = ..., data: _Optional[bytes] = ...) -> None: ...
