"""Fixtures of the interoperability tests: the cached environment holding MLflow, OpenAI and OpenInference."""

from tests.servers.interop import interop_python

__all__ = ["interop_python"]
