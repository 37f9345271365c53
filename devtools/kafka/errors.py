"""The one exception family of devtools.kafka, so callers can catch every failure at once."""


class KafkaDevError(RuntimeError):
    """Something the helper needs is missing or failed; the message says what and why."""


class BrokerError(KafkaDevError):
    """The broker could not be started, stopped or reached; the message says why."""
