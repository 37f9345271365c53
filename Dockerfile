# syntax=docker/dockerfile:1.7
# auditpipe's container image: `make image` builds it (it passes VERSION, REVISION and SOURCE).
#
#   docker build --build-arg VERSION=0.1.0 -t auditpipe:0.1.0 .
#   docker run --rm --read-only auditpipe:0.1.0                  # the bundled sample, events to stdout
#   docker run --rm --read-only -v $PWD/config:/etc/auditpipe:ro -e KAFKA_PASSWORD \
#       -p 9464:9464 auditpipe:0.1.0 run --config /etc/auditpipe/config.yaml
#
# Every RUN line calls deploy/container/build-steps.sh, the script CI runs without
# Docker (tests/test_container.py holds this file to it): the build stage compiles the
# wheel, the runtime stage installs only that wheel and its dependencies' wheels into a
# virtualenv and smoke-tests it as the runtime user. Needs BuildKit (Docker 23+ default).

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
COPY deploy/container/build-steps.sh /build/build-steps.sh
RUN /build/build-steps.sh toolchain
COPY . /src
RUN --mount=type=cache,target=/root/.cache/pip /build/build-steps.sh wheel /src /wheels

FROM ${PYTHON_IMAGE} AS runtime
ARG VERSION=""
ARG REVISION=""
ARG SOURCE=""
LABEL org.opencontainers.image.title="auditpipe" \
      org.opencontainers.image.description="Kubernetes audit events: exact audit-policy filtering, enrichment and routing on Kafka" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV PATH=/opt/auditpipe/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    LANG=C.UTF-8 \
    HOME=/nonexistent
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    --mount=type=bind,source=deploy/container,target=/build \
    /build/build-steps.sh install /wheels /opt/auditpipe
# A numeric user with no passwd entry, as Kubernetes' runAsUser and OpenShift's
# arbitrary UIDs run it; nothing in the image is writable by it.
USER 10001:10001
RUN --mount=type=bind,source=deploy/container,target=/build \
    /build/build-steps.sh smoke /opt/auditpipe "${VERSION}"
# The only writable place under `docker run --read-only` (an emptyDir in Kubernetes).
# auditpipe itself writes nothing there; a file source's rotation or a log source's
# checkpoint belong on a volume of their own.
VOLUME ["/tmp"]
# The webhook source (pipeline/config/sources.py) and /metrics, /healthz, /readyz.
EXPOSE 8443 9464
# See deploy/container/healthcheck.py: /healthz when the command serves it (a Kafka,
# webhook or log source with metrics enabled), else healthy while the one-shot run runs.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["/opt/auditpipe/bin/auditpipe-healthcheck"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["auditpipe"]
CMD ["run"]
