"""OTLP gRPC and HTTP into a real Arize Phoenix: same ids, parents, attributes, and the resource routes the project."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from exporters import FileSpanExporter, batch_processor, exporter_from_uri
from exporters.cli import main
from exporters.tracefiles import read_spans
from tests.exporters.helpers import provider_with, write_tree
from tests.servers.phoenix import PhoenixServer

pytestmark = [pytest.mark.servers, pytest.mark.slow]  # the session's Phoenix takes ~15 s to start


def _project() -> str:
    return f"exporters-{uuid.uuid4().hex[:8]}"


def _check(spans: list[dict], made: list[tuple[int, int, int | None]]) -> None:
    got = {
        (int(s["context"]["trace_id"], 16), int(s["context"]["span_id"], 16), int(s["parent_id"], 16) if s["parent_id"] else None)
        for s in spans
    }
    assert got == set(made)
    by_name = {s["name"]: s for s in spans}
    assert by_name["root"]["span_kind"] == "AGENT"
    assert by_name["child"]["attributes"] == {"flag": True, "score": 0.5}


@pytest.mark.parametrize("transport", ["grpc", "http"])
def test_live_export_reaches_phoenix(phoenix_server: PhoenixServer, transport: str) -> None:
    project = _project()
    uri = f"otlp://127.0.0.1:{phoenix_server.grpc_port}" if transport == "grpc" else phoenix_server.http_endpoint
    processor = batch_processor(exporter_from_uri(uri))
    provider = provider_with(processor.exporter, processor=lambda _: processor, resource={"openinference.project.name": project})
    made = write_tree(provider, traces=2)
    provider.force_flush()
    spans = phoenix_server.wait_for_spans(lambda found: len(found) >= 6, project=project)
    _check(spans, made)
    provider.shutdown()
    assert processor.dropped_spans == 0


@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_push_of_a_trace_file_reaches_phoenix(phoenix_server: PhoenixServer, tmp_path: Path, protocol: str) -> None:
    project = _project()
    path = tmp_path / "t.jsonl"
    provider = provider_with(FileSpanExporter(path), service="pushed", resource={"openinference.project.name": project})
    made = write_tree(provider, traces=2)
    provider.shutdown()
    assert {r.service_name for r in read_spans(path)} == {"pushed"}

    endpoint = f"127.0.0.1:{phoenix_server.grpc_port}" if protocol == "grpc" else phoenix_server.base_url
    assert main(["push", str(path), "--endpoint", endpoint, "--protocol", protocol]) == 0
    spans = phoenix_server.wait_for_spans(lambda found: len(found) >= 6, project=project)
    _check(spans, made)
