"""The MLflow server fixture tells a port taken under it from a failed start (`mlflow server` exits 0 either way), so
that the session's server is started again on another port instead of failing the tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.servers import refused_port
from tests.servers.mlflow_server import PortTaken, start_on_port

pytestmark = [pytest.mark.servers, pytest.mark.slow]  # the server reaches its bind in ~5 s


def test_a_port_taken_under_the_server_is_reported_as_taken(tmp_path: Path) -> None:
    with refused_port() as port, pytest.raises(PortTaken, match=f"port {port} was taken"):
        start_on_port(tmp_path, port)
