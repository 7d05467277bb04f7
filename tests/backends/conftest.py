"""Fixtures of the real-backend tests: the session's MLflow tracking server (Phoenix's comes from tests/conftest.py)."""

from tests.servers.mlflow_server import mlflow_server

__all__ = ["mlflow_server"]
