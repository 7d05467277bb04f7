"""`push` of 40,000 spans into a real Arize Phoenix: paced through its 503s, every span arrives, none twice."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest

from exporters.tracefiles.push import push
from tests.exporters.test_push import _big_trace_file
from tests.servers.phoenix import PhoenixServer

SPANS = 40_000


@pytest.mark.servers
@pytest.mark.slow
def test_push_of_40000_spans_into_phoenix_all_arrive_once(phoenix_server: PhoenixServer, tmp_path: Path) -> None:
    project = f"push-{uuid.uuid4().hex[:8]}"
    path = tmp_path / "big.jsonl"
    _big_trace_file(path, SPANS, project=project, payload=500)
    started = time.monotonic()
    result = push([path], phoenix_server.base_url, checkpoint=tmp_path / "cp.json", give_up_after_s=300)
    elapsed = time.monotonic() - started
    print(f"\npush of {SPANS:,} spans ({path.stat().st_size / 1e6:.0f} MB) into Phoenix: {elapsed:.1f} s, {result.sent / elapsed:,.0f} spans/s, "
          f"{result.retries} retries, {result.throttled} throttled answers (503), {result.splits} batch splits")
    assert (result.sent, result.failed, result.skipped_lines) == (SPANS, 0, 0)
    # Phoenix inserts what it accepted at its own pace; poll gently, it is busy
    spans = phoenix_server.wait_for_spans(lambda found: len(found) >= SPANS, project=project, timeout_s=1800, interval_s=10)
    ids = [s["context"]["span_id"] for s in spans]
    print(f"Phoenix holds {len(ids):,} spans {time.monotonic() - started:.0f} s after the push began")
    assert len(ids) == SPANS and len(set(ids)) == SPANS
