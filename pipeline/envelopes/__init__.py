"""Managed platforms' audit exports, unwrapped back into ``audit.k8s.io/v1`` Events.

Each module recognises its platform's envelope from its keys (never from
configuration) and says what it holds; ``decode.py`` decodes what comes out.
Every event keeps where it came from, as the ``envelope`` annotation.

===========  ===========================================================
module       envelopes
===========  ===========================================================
openshift    ViaQ audit records (OpenShift Logging), OTLP/JSON logs
aws          CloudWatch Logs: subscription batches, Lambda, Firehose,
             Kinesis wrappers, single log events (EKS)
azure        Azure resource-log records (AKS via Event Hubs)
gcp          Cloud Logging LogEntry (GKE), Pub/Sub push wrappers
===========  ===========================================================
"""

from __future__ import annotations

from ..model import Fields
from . import aws, azure, gcp, openshift
from .base import Built, EnvelopeError, Inner, ItemError, Skip, Unwrapped

_HANDLERS = (openshift.unwrap, aws.unwrap, azure.unwrap, gcp.unwrap)


def unwrap(value: Fields, path: str, limit: int) -> list[Unwrapped] | None:
    """What a platform envelope holds, or None if ``value`` is none of them.

    Raises
    ------
    EnvelopeError
        The envelope is recognised but broken as a whole.
    """
    for handler in _HANDLERS:
        found = handler(value, path, limit)
        if found is not None:
            return found
    return None


__all__ = ["Built", "EnvelopeError", "Inner", "ItemError", "Skip", "Unwrapped", "unwrap"]
