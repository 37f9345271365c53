"""Development tools for auditpipe: the real Kafka broker for development, tests,
benchmarks and CI (:mod:`devtools.kafka`). Not part of the shipped package."""
