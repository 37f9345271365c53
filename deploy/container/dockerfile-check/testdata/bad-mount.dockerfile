FROM python:3.11-slim AS build
# a typo in a mount flag
RUN --mount=type=bind,sorce=x,target=/y true
