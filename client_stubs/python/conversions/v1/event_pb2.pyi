from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

ACTION_SOURCE_EMAIL: ActionSource
ACTION_SOURCE_MOBILE_APP: ActionSource
ACTION_SOURCE_OFFLINE: ActionSource
ACTION_SOURCE_OTHER: ActionSource
ACTION_SOURCE_PHONE_CALL: ActionSource
ACTION_SOURCE_PHYSICAL_STORE: ActionSource
ACTION_SOURCE_UNSPECIFIED: ActionSource
ACTION_SOURCE_WEB: ActionSource
DESCRIPTOR: _descriptor.FileDescriptor
EVENT_TYPE_APPOINTMENT_SCHEDULED: EventType
EVENT_TYPE_APP_INSTALLED: EventType
EVENT_TYPE_APP_OPENED: EventType
EVENT_TYPE_CHECKOUT_STARTED: EventType
EVENT_TYPE_CONTENTS_VIEWED: EventType
EVENT_TYPE_CUSTOM: EventType
EVENT_TYPE_ITEMS_ADDED: EventType
EVENT_TYPE_LEAD_CREATED: EventType
EVENT_TYPE_ORDER_CREATED: EventType
EVENT_TYPE_PAGE_VIEWED: EventType
EVENT_TYPE_REGISTRATION_COMPLETED: EventType
EVENT_TYPE_SUBSCRIPTION_CREATED: EventType
EVENT_TYPE_TRIAL_STARTED: EventType
EVENT_TYPE_UNSPECIFIED: EventType

class Content(_message.Message):
    __slots__ = ["amount", "content_type", "currency", "group_id", "id", "name", "quantity", "variant"]
    class VariantEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    GROUP_ID_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    VARIANT_FIELD_NUMBER: _ClassVar[int]
    amount: int
    content_type: str
    currency: str
    group_id: str
    id: str
    name: str
    quantity: int
    variant: _containers.ScalarMap[str, str]
    def __init__(self, id: _Optional[str] = ..., group_id: _Optional[str] = ..., name: _Optional[str] = ..., content_type: _Optional[str] = ..., quantity: _Optional[int] = ..., amount: _Optional[int] = ..., currency: _Optional[str] = ..., variant: _Optional[_Mapping[str, str]] = ...) -> None: ...

class Event(_message.Message):
    __slots__ = ["action_source", "custom_event_name", "data", "id", "oppref", "opt_out", "source_url", "timestamp_ms", "type", "user"]
    ACTION_SOURCE_FIELD_NUMBER: _ClassVar[int]
    CUSTOM_EVENT_NAME_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    OPPREF_FIELD_NUMBER: _ClassVar[int]
    OPT_OUT_FIELD_NUMBER: _ClassVar[int]
    SOURCE_URL_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_MS_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    action_source: ActionSource
    custom_event_name: str
    data: EventData
    id: str
    oppref: str
    opt_out: bool
    source_url: str
    timestamp_ms: int
    type: EventType
    user: UserData
    def __init__(self, id: _Optional[str] = ..., type: _Optional[_Union[EventType, str]] = ..., timestamp_ms: _Optional[int] = ..., custom_event_name: _Optional[str] = ..., oppref: _Optional[str] = ..., source_url: _Optional[str] = ..., action_source: _Optional[_Union[ActionSource, str]] = ..., user: _Optional[_Union[UserData, _Mapping]] = ..., opt_out: bool = ..., data: _Optional[_Union[EventData, _Mapping]] = ...) -> None: ...

class EventData(_message.Message):
    __slots__ = ["amount", "contents", "currency", "custom_properties", "plan_id"]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    CONTENTS_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    CUSTOM_PROPERTIES_FIELD_NUMBER: _ClassVar[int]
    PLAN_ID_FIELD_NUMBER: _ClassVar[int]
    amount: int
    contents: _containers.RepeatedCompositeFieldContainer[Content]
    currency: str
    custom_properties: _struct_pb2.Struct
    plan_id: str
    def __init__(self, amount: _Optional[int] = ..., currency: _Optional[str] = ..., contents: _Optional[_Iterable[_Union[Content, _Mapping]]] = ..., plan_id: _Optional[str] = ..., custom_properties: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class UserData(_message.Message):
    __slots__ = ["android_advertising_id", "cities", "countries", "emails", "emails_sha256", "external_ids", "external_ids_sha256", "first_names", "first_names_sha256", "ip_address", "last_names", "last_names_sha256", "obref", "phone_numbers", "phone_numbers_sha256", "postal_codes", "regions", "user_agent"]
    ANDROID_ADVERTISING_ID_FIELD_NUMBER: _ClassVar[int]
    CITIES_FIELD_NUMBER: _ClassVar[int]
    COUNTRIES_FIELD_NUMBER: _ClassVar[int]
    EMAILS_FIELD_NUMBER: _ClassVar[int]
    EMAILS_SHA256_FIELD_NUMBER: _ClassVar[int]
    EXTERNAL_IDS_FIELD_NUMBER: _ClassVar[int]
    EXTERNAL_IDS_SHA256_FIELD_NUMBER: _ClassVar[int]
    FIRST_NAMES_FIELD_NUMBER: _ClassVar[int]
    FIRST_NAMES_SHA256_FIELD_NUMBER: _ClassVar[int]
    IP_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    LAST_NAMES_FIELD_NUMBER: _ClassVar[int]
    LAST_NAMES_SHA256_FIELD_NUMBER: _ClassVar[int]
    OBREF_FIELD_NUMBER: _ClassVar[int]
    PHONE_NUMBERS_FIELD_NUMBER: _ClassVar[int]
    PHONE_NUMBERS_SHA256_FIELD_NUMBER: _ClassVar[int]
    POSTAL_CODES_FIELD_NUMBER: _ClassVar[int]
    REGIONS_FIELD_NUMBER: _ClassVar[int]
    USER_AGENT_FIELD_NUMBER: _ClassVar[int]
    android_advertising_id: str
    cities: _containers.RepeatedScalarFieldContainer[str]
    countries: _containers.RepeatedScalarFieldContainer[str]
    emails: _containers.RepeatedScalarFieldContainer[str]
    emails_sha256: _containers.RepeatedScalarFieldContainer[str]
    external_ids: _containers.RepeatedScalarFieldContainer[str]
    external_ids_sha256: _containers.RepeatedScalarFieldContainer[str]
    first_names: _containers.RepeatedScalarFieldContainer[str]
    first_names_sha256: _containers.RepeatedScalarFieldContainer[str]
    ip_address: str
    last_names: _containers.RepeatedScalarFieldContainer[str]
    last_names_sha256: _containers.RepeatedScalarFieldContainer[str]
    obref: str
    phone_numbers: _containers.RepeatedScalarFieldContainer[str]
    phone_numbers_sha256: _containers.RepeatedScalarFieldContainer[str]
    postal_codes: _containers.RepeatedScalarFieldContainer[str]
    regions: _containers.RepeatedScalarFieldContainer[str]
    user_agent: str
    def __init__(self, emails: _Optional[_Iterable[str]] = ..., phone_numbers: _Optional[_Iterable[str]] = ..., external_ids: _Optional[_Iterable[str]] = ..., first_names: _Optional[_Iterable[str]] = ..., last_names: _Optional[_Iterable[str]] = ..., emails_sha256: _Optional[_Iterable[str]] = ..., phone_numbers_sha256: _Optional[_Iterable[str]] = ..., external_ids_sha256: _Optional[_Iterable[str]] = ..., first_names_sha256: _Optional[_Iterable[str]] = ..., last_names_sha256: _Optional[_Iterable[str]] = ..., regions: _Optional[_Iterable[str]] = ..., postal_codes: _Optional[_Iterable[str]] = ..., cities: _Optional[_Iterable[str]] = ..., countries: _Optional[_Iterable[str]] = ..., android_advertising_id: _Optional[str] = ..., obref: _Optional[str] = ..., ip_address: _Optional[str] = ..., user_agent: _Optional[str] = ...) -> None: ...

class EventType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class ActionSource(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []
