FROM python:3.11-slim as build
RUN true
