"""The pipeline configuration: strict Structs (model, io), and their loading
(safe YAML, ``${VAR}`` interpolation, paths relative to the file, checks)."""

from .checks import STDIO, check, parse_bootstrap
from .load import load, loads, masked, secrets
from .model import (
    DEFAULT_MAX_RECORD_BYTES,
    Config,
    DeadLetters,
    Decoding,
    Delivery,
    Enrichment,
    Kafka,
    Limits,
    MetricsServer,
    Output,
    Sasl,
    Source,
    Tls,
)
from .outputs import (
    DeadLetterFile,
    DeadLetterKafka,
    FileOutput,
    HttpOutput,
    HttpTls,
    KafkaOutput,
    Rotation,
    Selector,
    SelectorResources,
)
from .schema import json_schema, schema_json
from .sources import FileSource, KafkaSource, LogSource, WebhookSource, WebhookTls

__all__ = [
    "DEFAULT_MAX_RECORD_BYTES",
    "STDIO",
    "Config",
    "DeadLetterFile",
    "DeadLetterKafka",
    "DeadLetters",
    "Decoding",
    "Delivery",
    "Enrichment",
    "FileOutput",
    "FileSource",
    "HttpOutput",
    "HttpTls",
    "Kafka",
    "KafkaOutput",
    "KafkaSource",
    "Limits",
    "LogSource",
    "MetricsServer",
    "Output",
    "Rotation",
    "Sasl",
    "Selector",
    "SelectorResources",
    "Source",
    "Tls",
    "WebhookSource",
    "WebhookTls",
    "check",
    "json_schema",
    "load",
    "loads",
    "masked",
    "parse_bootstrap",
    "schema_json",
    "secrets",
]
