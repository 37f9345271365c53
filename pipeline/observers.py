"""What components report as they work, as protocols (the service's metrics
implement them all). They live apart from the components so that wiring a
pipeline does not import aiohttp or aiokafka unless the config uses them:
``filter`` starts without either."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

# (topic, partition, records behind; None: the partition is not ours any more)
LagGauge = Callable[[str, int, int | None], None]


class WebhookObserver(Protocol):
    """What the webhook source reports."""

    def webhook_answered(self, code: int, body_bytes: int, seconds: float) -> None:
        """A request was answered ``code`` after ``seconds``; its body had ``body_bytes``."""

    def webhook_inflight(self, requests: int) -> None:
        """Requests accepted and not yet answered."""


class HttpObserver(Protocol):
    """What an HTTP output reports."""

    def http_request(self, output: str, outcome: str) -> None:
        """One request ended: ``outcome`` is ``2xx``, ``3xx``, ``4xx``, ``5xx`` or ``error``."""


class RetryObserver(Protocol):
    """What the Kafka producer reports."""

    def delivery_retried(self, output: str, records: int) -> None:
        """``records`` of ``output`` are being sent again after a failed delivery."""


class ComponentObserver(WebhookObserver, HttpObserver, RetryObserver, Protocol):
    """Everything components report besides the runner's observations."""
