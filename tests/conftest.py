"""Shared fixtures: real OpenTelemetry pipelines and the real servers of SPEC section 8."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

import tracing
from tests.capture import CapturedSpans
from tracing._errors import reset_error_counts

pytest_plugins: list[str] = [
    "tests.servers.oteltap",
    "tests.servers.phoenix",
]


def pytest_configure(config: pytest.Config) -> None:
    """The markers of the test suite (pyproject.toml keeps only the project-wide ones)."""
    config.addinivalue_line("markers", "slow: the test takes more than about 2 s (deselect with -m 'not slow')")
    config.addinivalue_line(
        "markers",
        "provokes_failures(*causes): the test makes tracing fail and count it on purpose; with causes given, only "
        "failures whose cause starts with one of them are allowed in tracing.error_counts() after the test",
    )


@pytest.fixture(autouse=True)
def _no_unprovoked_tracing_failures(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every test starts with no counted failure, and fails if tracing counted one it did not provoke on purpose (SPEC 3.2)."""
    reset_error_counts()
    yield
    provoked = request.node.get_closest_marker("provokes_failures")
    if provoked is not None and not provoked.args:
        return
    allowed = tuple(provoked.args) if provoked else ()
    unexpected = {cause: count for cause, count in tracing.error_counts().items() if not cause.startswith(allowed)}
    assert not unexpected, f"tracing counted failures this test is not marked to provoke (provokes_failures): {unexpected}"


@pytest.fixture(autouse=True)
def _no_failed_detach(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Every test fails if OpenTelemetry ever logged "Failed to detach context" (SPEC 3.3)."""
    caplog.set_level(logging.WARNING)
    yield
    detached = [r for r in caplog.records if "Failed to detach context" in r.getMessage()]
    assert not detached, f"OpenTelemetry logged 'Failed to detach context' {len(detached)} times"


@pytest.fixture(params=["compiled loop", "Python loop"])
def relay_loop(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run the test with a traced generator's steps in the compiled loop (tracing/_speedups.c) and in the Python
    loop used where it was not built."""
    from tracing import _decorator

    if request.param == "Python loop":
        monkeypatch.setattr(_decorator, "_Relay", None)
    elif _decorator._Relay is None:
        pytest.skip("tracing/_speedups.c was not built (no C compiler)")
    return str(request.param)


@pytest.fixture
def spans() -> Iterator[CapturedSpans]:
    """tracing configured into a real SDK in-memory exporter (`spans.configure(**settings)` to change settings); shut down afterwards."""
    captured = CapturedSpans().configure()
    yield captured
    tracing.shutdown()
