"""Collector outages: a real receiver process stopped for 10 s and restarted."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import TracerProvider

from exporters import CountingBatchSpanProcessor, batch_processor, exporter_from_uri
from exporters.tracefiles import read_spans
from exporters.tracefiles.push import push
from tests.exporters.helpers import provider_with
from tests.servers.oteltap import OtelTap, attributes_of
from tests.waiting import wait_until

OUTAGE_S = 10.0
SPANS = 300


def _pipeline(uri: str, **sizes: int) -> tuple[TracerProvider, CountingBatchSpanProcessor]:
    processor = batch_processor(exporter_from_uri(uri), schedule_delay_millis=100, **sizes)
    return provider_with(processor.exporter, processor=lambda _: processor), processor


def _emit(provider: TracerProvider, name: str) -> None:
    tracer = provider.get_tracer("outage")
    for index in range(SPANS):
        with tracer.start_as_current_span(name, attributes={"pipeline": name, "i": index}):
            pass


def _received(tap: OtelTap, name: str) -> set[int]:
    return {attributes_of(s)["i"] for s in tap.spans() if s["name"] == name}


def _wait(condition: Callable[[], bool], message: str, timeout_s: float = 90.0) -> None:
    wait_until(condition, timeout_s=timeout_s, message=message)


@pytest.mark.slow
@pytest.mark.provokes_failures("span queue")
def test_receiver_down_for_10s_loses_nothing_that_fits_counts_the_rest_and_fallback_keeps_it(oteltap: OtelTap, tmp_path: Path) -> None:
    fallback = tmp_path / "undelivered.jsonl"
    fits, fits_processor = _pipeline(f"otlp+http://127.0.0.1:{oteltap.port}")
    small, small_processor = _pipeline(f"otlp+http://127.0.0.1:{oteltap.port}", max_queue_size=50, max_export_batch_size=10)
    kept, kept_processor = _pipeline(f"otlp+http://127.0.0.1:{oteltap.port}?fallback={fallback}", max_queue_size=50, max_export_batch_size=10)

    oteltap.stop()
    for provider, name in ((fits, "fits"), (small, "small"), (kept, "kept")):
        _emit(provider, name)
    time.sleep(OUTAGE_S)  # the outage itself, not a synchronisation
    oteltap.start()

    _wait(lambda: len(_received(oteltap, "fits")) == SPANS, "the 'fits' pipeline did not deliver every span after the outage")
    assert _received(oteltap, "fits") == set(range(SPANS))
    assert fits_processor.dropped_spans == 0

    _wait(lambda: len(_received(oteltap, "small")) + small_processor.dropped_spans == SPANS,
          "the 'small' pipeline did not deliver or count every span after the outage")
    assert small_processor.dropped_spans > 0
    assert len(_received(oteltap, "small")) + small_processor.dropped_spans == SPANS

    _wait(lambda: len(_received(oteltap, "kept")) + kept_processor.fallback_spans == SPANS,
          "the 'kept' pipeline did not deliver or spill to the fallback every span after the outage")
    for provider in (fits, small, kept):
        provider.shutdown()
    assert kept_processor.dropped_spans == 0
    assert kept_processor.fallback_spans > 0
    in_fallback = {r.attributes["i"] for r in read_spans(fallback, strict=True)}
    assert len(in_fallback) == kept_processor.fallback_spans
    assert in_fallback.isdisjoint(_received(oteltap, "kept"))

    result = push([fallback], oteltap.endpoint)
    assert result.failed == 0
    _wait(lambda: len(_received(oteltap, "kept")) == SPANS, "the pushed fallback did not reach the receiver")
    assert _received(oteltap, "kept") == set(range(SPANS))


def test_shutdown_while_the_receiver_is_down_writes_everything_to_the_fallback(oteltap: OtelTap, tmp_path: Path) -> None:
    fallback = tmp_path / "undelivered.jsonl"
    provider, processor = _pipeline(f"otlp+http://127.0.0.1:{oteltap.port}?fallback={fallback}&timeout=1")
    oteltap.stop()
    _emit(provider, "late")
    provider.shutdown()
    assert processor.dropped_spans == 0
    assert processor.fallback_spans == SPANS
    assert sorted(r.attributes["i"] for r in read_spans(fallback, strict=True)) == list(range(SPANS))
