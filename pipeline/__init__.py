"""auditpipe: exact Kubernetes audit-policy filtering, enrichment and routing."""

__version__ = "0.1.0"

__all__ = ["__version__"]
