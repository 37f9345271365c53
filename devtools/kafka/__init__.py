"""A real single-node Apache Kafka broker (KRaft) for development, tests, benchmarks and
CI, run from Maven Central jars with the machine's Java and Maven (no Docker, no tarball).

>>> broker = Broker(home=".kafka-dev", ports=BrokerPorts.from_base(19092))
>>> broker.start()          # idempotent; returns once the broker serves
>>> broker.bootstrap        # '127.0.0.1:19092'
>>> broker.stop()

``scripts/kafka-dev`` is the command-line front end (``python -m devtools.kafka``).
"""

from .broker import Broker, BrokerError, BrokerStatus, RuntimeOptions
from .errors import KafkaDevError
from .settings import KAFKA_VERSION, SASL_MECHANISMS, SASL_PASSWORD, SASL_USER, BrokerPorts, ListenerNames
from .tls import TlsMaterial, client_ssl_context

__all__ = [
    "KAFKA_VERSION",
    "SASL_MECHANISMS",
    "SASL_PASSWORD",
    "SASL_USER",
    "Broker",
    "BrokerError",
    "BrokerPorts",
    "BrokerStatus",
    "KafkaDevError",
    "ListenerNames",
    "RuntimeOptions",
    "TlsMaterial",
    "client_ssl_context",
]
