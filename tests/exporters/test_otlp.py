"""exporter_from_uri and batch_processor against a real oteltap OTLP/HTTP receiver."""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path

import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter

from exporters import CountingBatchSpanProcessor, FileSpanExporter, ResilientExporter, batch_processor, exporter_from_uri
from exporters.tracefiles import read_spans
from tests.exporters.helpers import provider_with, write_tree
from tests.servers.oteltap import OtelTap, attributes_of
from tests.waiting import wait_until


@pytest.mark.parametrize("form", ["otlp+http://127.0.0.1:{port}", "http://127.0.0.1:{port}/v1/traces"])
def test_spans_reach_a_real_receiver_with_ids_parents_and_attributes(oteltap: OtelTap, form: str) -> None:
    exporter = exporter_from_uri(form.format(port=oteltap.port))
    processor = batch_processor(exporter)
    provider = provider_with(exporter, processor=lambda _: processor)
    made = write_tree(provider, traces=5)
    assert provider.force_flush()

    received = oteltap.wait_for(15)
    assert len(received) == 15
    got = {(int(s["traceId"], 16), int(s["spanId"], 16), int(s["parentSpanId"], 16) if s["parentSpanId"] else None) for s in received}
    assert got == set(made)
    roots = sorted((s for s in received if s["name"] == "root"), key=lambda s: attributes_of(s)["index"])
    assert [attributes_of(s) for s in roots] == [{"index": i, "openinference.span.kind": "AGENT"} for i in range(5)]
    child = next(s for s in received if s["name"] == "child")
    assert attributes_of(child) == {"flag": True, "score": 0.5}
    grandchild = next(s for s in received if s["name"] == "grandchild")
    assert attributes_of(grandchild) == {"tags": ["a", "b"]}
    assert grandchild["events"][0]["name"] == "note"
    provider.shutdown()
    assert processor.dropped_spans == 0


def test_uri_forms_build_the_right_exporters(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plain = exporter_from_uri(str(tmp_path / "a.jsonl"))
    assert isinstance(plain, FileSpanExporter) and plain.path == tmp_path / "a.jsonl"
    rotating = exporter_from_uri(f"file://{tmp_path}/b.jsonl?max_bytes=1000&backups=2&compress=true&fsync=always")
    assert isinstance(rotating, FileSpanExporter)
    assert (rotating.path, rotating.max_bytes, rotating.backups, rotating.compress, rotating.fsync) == (tmp_path / "b.jsonl", 1000, 2, True, "always")
    assert exporter_from_uri("file://traces/rel.jsonl").path == Path("traces/rel.jsonl")  # type: ignore[attr-defined]

    grpc = exporter_from_uri("otlp://127.0.0.1:4317")
    assert isinstance(grpc, ResilientExporter) and isinstance(grpc.inner, GrpcExporter)
    assert isinstance(exporter_from_uri("otlp+grpc://127.0.0.1:4317").inner, GrpcExporter)  # type: ignore[attr-defined]
    http = exporter_from_uri(f"otlp+http://127.0.0.1:4318?fallback={tmp_path}/undelivered.jsonl&timeout=3")
    assert isinstance(http, ResilientExporter) and isinstance(http.inner, HttpExporter)
    assert http.fallback_path == tmp_path / "undelivered.jsonl"

    assert isinstance(exporter_from_uri("otlp+grpc:").inner, GrpcExporter)  # type: ignore[attr-defined]
    assert isinstance(exporter_from_uri("otlp+http:").inner, HttpExporter)  # type: ignore[attr-defined]
    assert isinstance(exporter_from_uri("otlp", protocol="grpc").inner, GrpcExporter)  # type: ignore[attr-defined]
    assert isinstance(exporter_from_uri("otlp").inner, HttpExporter)  # type: ignore[attr-defined]

    for bad in ("ftp://host/x", "http://", "file://x.jsonl?colour=red", "nonsense"):
        with pytest.raises(ValueError):
            exporter_from_uri(bad)


def test_bare_otlp_takes_endpoint_protocol_and_headers_from_the_environment(oteltap: OtelTap, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{oteltap.port}")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-tenant=acme")
    exporter = exporter_from_uri("otlp")
    provider = provider_with(exporter, processor=batch_processor)
    write_tree(provider)
    provider.force_flush()
    assert len(oteltap.wait_for(3)) == 3
    provider.shutdown()


@pytest.mark.provokes_failures("span queue")
def test_queue_overflow_is_counted_and_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from tracing._errors import error_counts

    fifo = tmp_path / "blocked.fifo"
    os.mkfifo(fifo)
    # Writing more than a pipe holds (64 KiB) to a FIFO nobody reads blocks: the worker is stuck in its first batch
    # of 5 spans of 100 KB each, the queue fills.
    processor = batch_processor(FileSpanExporter(fifo), max_queue_size=20, max_export_batch_size=5, schedule_delay_millis=60_000)
    provider = provider_with(processor.exporter, processor=lambda _: processor)
    before = error_counts().get("span queue", 0)
    tracer = provider.get_tracer("tests.exporters")
    with caplog.at_level(logging.WARNING):
        for index in range(300):
            with tracer.start_as_current_span(f"span-{index}", attributes={"pad": "x" * 100_000}):
                pass
            if index == 4:  # a full batch: the worker takes it and blocks on the FIFO before the queue fills
                wait_until(lambda: not processor._queue, timeout_s=30, message="the export worker took the first batch")
    assert isinstance(processor, CountingBatchSpanProcessor)
    assert processor.dropped_spans == 300 - 20 - 5  # 5 taken by the stuck worker, 20 queued
    assert error_counts()["span queue"] - before == processor.dropped_spans
    assert "export queue full" in caplog.text

    received: list[bytes] = []

    def drain() -> None:
        with open(fifo, "rb") as reader:
            received.extend(reader.read().splitlines())

    reader = threading.Thread(target=drain)
    reader.start()
    provider.shutdown()
    reader.join(timeout=30)
    delivered = sum(len(json.loads(line)["resourceSpans"][0]["scopeSpans"][0]["spans"]) for line in received)
    assert delivered + processor.dropped_spans == 300


class _Broken(HttpExporter):
    """A real OTLP exporter whose export raises, as a broken network stack would."""

    def export(self, spans):  # type: ignore[no-untyped-def]
        raise OSError("network stack exploded")


@pytest.mark.provokes_failures("exporter _Broken")
def test_an_exporter_that_raises_never_reaches_the_traced_call(tmp_path: Path) -> None:
    from tracing._errors import error_counts

    fallback = tmp_path / "fallback.jsonl"
    resilient = ResilientExporter(_Broken(endpoint="http://127.0.0.1:9/v1/traces"), fallback=fallback, give_up_after_s=0.2)
    processor = batch_processor(resilient, schedule_delay_millis=50)
    provider = provider_with(resilient, processor=lambda _: processor)

    def traced(x: int) -> int:
        with provider.get_tracer("t").start_as_current_span("call"):
            return x * 2

    assert [traced(i) for i in range(5)] == [0, 2, 4, 6, 8]
    provider.shutdown()
    assert error_counts()["exporter _Broken"] >= 1
    assert processor.dropped_spans == 0 and processor.fallback_spans == 5
    assert len(list(read_spans(fallback, strict=True))) == 5
