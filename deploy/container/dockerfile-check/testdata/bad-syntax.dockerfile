FROM python:3.11-slim
RUNN true
