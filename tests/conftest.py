"""Shared fixtures: real OpenTelemetry pipelines and the real servers of SPEC section 8."""

pytest_plugins: list[str] = []
