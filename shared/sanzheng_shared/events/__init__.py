"""The CloudEvents envelope and the event catalogue of SPEC §3."""

from sanzheng_shared.events.catalogue import DATA_MODELS, INBOUND_TYPES, data_model_for
from sanzheng_shared.events.envelope import (
    CloudEvent,
    InvalidData,
    NotACloudEvent,
    Reason,
    parse_cloudevent,
    validate_data,
)

__all__ = [
    "DATA_MODELS",
    "INBOUND_TYPES",
    "CloudEvent",
    "InvalidData",
    "NotACloudEvent",
    "Reason",
    "data_model_for",
    "parse_cloudevent",
    "validate_data",
]
