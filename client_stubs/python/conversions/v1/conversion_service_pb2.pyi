from conversions.v1 import event_pb2 as _event_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DEAD_LETTER_REASON_DAMAGED: DeadLetterReason
DEAD_LETTER_REASON_EXPIRED: DeadLetterReason
DEAD_LETTER_REASON_REJECTED: DeadLetterReason
DEAD_LETTER_REASON_UNSPECIFIED: DeadLetterReason
DELIVERY_STATE_DEAD_LETTERED: DeliveryState
DELIVERY_STATE_DELIVERED: DeliveryState
DELIVERY_STATE_IN_FLIGHT: DeliveryState
DELIVERY_STATE_QUEUED: DeliveryState
DELIVERY_STATE_UNSPECIFIED: DeliveryState
DESCRIPTOR: _descriptor.FileDescriptor

class ApiValidation(_message.Message):
    __slots__ = ["http_status", "message"]
    HTTP_STATUS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    http_status: int
    message: str
    def __init__(self, http_status: _Optional[int] = ..., message: _Optional[str] = ...) -> None: ...

class DeadLetter(_message.Message):
    __slots__ = ["attempts", "custom_event_name", "dead_lettered_time", "destination", "event_id", "message", "reason", "type", "validate_only", "wire_json"]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    CUSTOM_EVENT_NAME_FIELD_NUMBER: _ClassVar[int]
    DEAD_LETTERED_TIME_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    VALIDATE_ONLY_FIELD_NUMBER: _ClassVar[int]
    WIRE_JSON_FIELD_NUMBER: _ClassVar[int]
    attempts: int
    custom_event_name: str
    dead_lettered_time: _timestamp_pb2.Timestamp
    destination: str
    event_id: str
    message: str
    reason: DeadLetterReason
    type: _event_pb2.EventType
    validate_only: bool
    wire_json: str
    def __init__(self, destination: _Optional[str] = ..., type: _Optional[_Union[_event_pb2.EventType, str]] = ..., custom_event_name: _Optional[str] = ..., event_id: _Optional[str] = ..., reason: _Optional[_Union[DeadLetterReason, str]] = ..., message: _Optional[str] = ..., dead_lettered_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., attempts: _Optional[int] = ..., wire_json: _Optional[str] = ..., validate_only: bool = ...) -> None: ...

class EventKey(_message.Message):
    __slots__ = ["custom_event_name", "id", "type"]
    CUSTOM_EVENT_NAME_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    custom_event_name: str
    id: str
    type: _event_pb2.EventType
    def __init__(self, type: _Optional[_Union[_event_pb2.EventType, str]] = ..., custom_event_name: _Optional[str] = ..., id: _Optional[str] = ...) -> None: ...

class EventResult(_message.Message):
    __slots__ = ["event_id", "index", "outcome", "skip_reason", "violations", "warnings", "wire_json"]
    class Outcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = []
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_ACCEPTED: EventResult.Outcome
    OUTCOME_DUPLICATE: EventResult.Outcome
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_REJECTED: EventResult.Outcome
    OUTCOME_SKIPPED: EventResult.Outcome
    OUTCOME_UNSPECIFIED: EventResult.Outcome
    SKIP_REASON_FIELD_NUMBER: _ClassVar[int]
    VIOLATIONS_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    WIRE_JSON_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    index: int
    outcome: EventResult.Outcome
    skip_reason: str
    violations: _containers.RepeatedCompositeFieldContainer[FieldViolation]
    warnings: _containers.RepeatedCompositeFieldContainer[FieldWarning]
    wire_json: str
    def __init__(self, index: _Optional[int] = ..., event_id: _Optional[str] = ..., outcome: _Optional[_Union[EventResult.Outcome, str]] = ..., violations: _Optional[_Iterable[_Union[FieldViolation, _Mapping]]] = ..., warnings: _Optional[_Iterable[_Union[FieldWarning, _Mapping]]] = ..., skip_reason: _Optional[str] = ..., wire_json: _Optional[str] = ...) -> None: ...

class FieldViolation(_message.Message):
    __slots__ = ["description", "field", "reason"]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    FIELD_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    description: str
    field: str
    reason: str
    def __init__(self, field: _Optional[str] = ..., reason: _Optional[str] = ..., description: _Optional[str] = ...) -> None: ...

class FieldWarning(_message.Message):
    __slots__ = ["description", "field", "reason"]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    FIELD_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    description: str
    field: str
    reason: str
    def __init__(self, field: _Optional[str] = ..., reason: _Optional[str] = ..., description: _Optional[str] = ...) -> None: ...

class GetEventStatusRequest(_message.Message):
    __slots__ = ["custom_event_name", "destination", "id", "type"]
    CUSTOM_EVENT_NAME_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    custom_event_name: str
    destination: str
    id: str
    type: _event_pb2.EventType
    def __init__(self, destination: _Optional[str] = ..., type: _Optional[_Union[_event_pb2.EventType, str]] = ..., custom_event_name: _Optional[str] = ..., id: _Optional[str] = ...) -> None: ...

class GetEventStatusResponse(_message.Message):
    __slots__ = ["accepted_time", "attempts", "dead_letter_reason", "delivered_time", "last_error", "next_attempt_time", "state", "validate_only"]
    ACCEPTED_TIME_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    DEAD_LETTER_REASON_FIELD_NUMBER: _ClassVar[int]
    DELIVERED_TIME_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    NEXT_ATTEMPT_TIME_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    VALIDATE_ONLY_FIELD_NUMBER: _ClassVar[int]
    accepted_time: _timestamp_pb2.Timestamp
    attempts: int
    dead_letter_reason: DeadLetterReason
    delivered_time: _timestamp_pb2.Timestamp
    last_error: str
    next_attempt_time: _timestamp_pb2.Timestamp
    state: DeliveryState
    validate_only: bool
    def __init__(self, state: _Optional[_Union[DeliveryState, str]] = ..., accepted_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., delivered_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., attempts: _Optional[int] = ..., next_attempt_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., last_error: _Optional[str] = ..., dead_letter_reason: _Optional[_Union[DeadLetterReason, str]] = ..., validate_only: bool = ...) -> None: ...

class ListDeadLettersRequest(_message.Message):
    __slots__ = ["destination", "page_size", "page_token", "reason", "validate_only"]
    DESTINATION_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    VALIDATE_ONLY_FIELD_NUMBER: _ClassVar[int]
    destination: str
    page_size: int
    page_token: str
    reason: DeadLetterReason
    validate_only: bool
    def __init__(self, destination: _Optional[str] = ..., reason: _Optional[_Union[DeadLetterReason, str]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., validate_only: bool = ...) -> None: ...

class ListDeadLettersResponse(_message.Message):
    __slots__ = ["dead_letters", "next_page_token"]
    DEAD_LETTERS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    dead_letters: _containers.RepeatedCompositeFieldContainer[DeadLetter]
    next_page_token: str
    def __init__(self, dead_letters: _Optional[_Iterable[_Union[DeadLetter, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class RetryDeadLettersRequest(_message.Message):
    __slots__ = ["destination", "events", "reason", "validate_only"]
    DESTINATION_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    VALIDATE_ONLY_FIELD_NUMBER: _ClassVar[int]
    destination: str
    events: _containers.RepeatedCompositeFieldContainer[EventKey]
    reason: DeadLetterReason
    validate_only: bool
    def __init__(self, destination: _Optional[str] = ..., events: _Optional[_Iterable[_Union[EventKey, _Mapping]]] = ..., reason: _Optional[_Union[DeadLetterReason, str]] = ..., validate_only: bool = ...) -> None: ...

class RetryDeadLettersResponse(_message.Message):
    __slots__ = ["requeued_count", "window_closed_count"]
    REQUEUED_COUNT_FIELD_NUMBER: _ClassVar[int]
    WINDOW_CLOSED_COUNT_FIELD_NUMBER: _ClassVar[int]
    requeued_count: int
    window_closed_count: int
    def __init__(self, requeued_count: _Optional[int] = ..., window_closed_count: _Optional[int] = ...) -> None: ...

class SendEventsRequest(_message.Message):
    __slots__ = ["destination", "events", "validate_only"]
    DESTINATION_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    VALIDATE_ONLY_FIELD_NUMBER: _ClassVar[int]
    destination: str
    events: _containers.RepeatedCompositeFieldContainer[_event_pb2.Event]
    validate_only: bool
    def __init__(self, destination: _Optional[str] = ..., events: _Optional[_Iterable[_Union[_event_pb2.Event, _Mapping]]] = ..., validate_only: bool = ...) -> None: ...

class SendEventsResponse(_message.Message):
    __slots__ = ["results"]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[EventResult]
    def __init__(self, results: _Optional[_Iterable[_Union[EventResult, _Mapping]]] = ...) -> None: ...

class TrackEventsRequest(_message.Message):
    __slots__ = ["destination", "dry_run", "events", "validate_only"]
    DESTINATION_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    VALIDATE_ONLY_FIELD_NUMBER: _ClassVar[int]
    destination: str
    dry_run: bool
    events: _containers.RepeatedCompositeFieldContainer[_struct_pb2.Struct]
    validate_only: bool
    def __init__(self, destination: _Optional[str] = ..., events: _Optional[_Iterable[_Union[_struct_pb2.Struct, _Mapping]]] = ..., validate_only: bool = ..., dry_run: bool = ...) -> None: ...

class TrackEventsResponse(_message.Message):
    __slots__ = ["results"]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[EventResult]
    def __init__(self, results: _Optional[_Iterable[_Union[EventResult, _Mapping]]] = ...) -> None: ...

class ValidateEventsRequest(_message.Message):
    __slots__ = ["destination", "events", "validate_only"]
    DESTINATION_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    VALIDATE_ONLY_FIELD_NUMBER: _ClassVar[int]
    destination: str
    events: _containers.RepeatedCompositeFieldContainer[_event_pb2.Event]
    validate_only: bool
    def __init__(self, destination: _Optional[str] = ..., events: _Optional[_Iterable[_Union[_event_pb2.Event, _Mapping]]] = ..., validate_only: bool = ...) -> None: ...

class ValidateEventsResponse(_message.Message):
    __slots__ = ["api_validation", "results"]
    API_VALIDATION_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    api_validation: ApiValidation
    results: _containers.RepeatedCompositeFieldContainer[EventResult]
    def __init__(self, results: _Optional[_Iterable[_Union[EventResult, _Mapping]]] = ..., api_validation: _Optional[_Union[ApiValidation, _Mapping]] = ...) -> None: ...

class DeliveryState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class DeadLetterReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []
