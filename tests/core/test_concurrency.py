"""Threads and asyncio tasks each see only their own spans (SPEC 3.4)."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import tracing


@tracing.trace
def tool(request_id):
    return request_id


@tracing.trace
def stream(request_id):
    for i in range(3):
        yield f"{request_id}:{i}"


@tracing.trace(span_type="AGENT")
def handle(request_id):
    tool(request_id)
    return "".join(stream(request_id))


def _assert_each_request_is_one_trace(captured, requests):
    finished = captured.all()
    assert len(finished) == 3 * requests
    roots = {s.context.trace_id: s for s in finished if s.parent is None}
    assert len(roots) == requests
    for span in finished:
        root = roots[span.context.trace_id]
        request_id = span.attributes["input.value"]
        assert request_id == root.attributes["input.value"], "a span landed in another request's trace"
        if span is not root:
            assert span.parent.span_id == root.context.span_id


def test_16_threads_by_200_requests(spans):
    requests = [f"t{i}" for i in range(16 * 200)]
    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(handle, requests))
    assert results == [f"{r}:0{r}:1{r}:2" for r in requests]
    _assert_each_request_is_one_trace(spans, len(requests))


def test_1000_concurrent_asyncio_tasks(spans):
    @tracing.trace
    async def atool(request_id):
        await asyncio.sleep(0)
        return request_id

    @tracing.trace
    async def astream(request_id):
        for i in range(3):
            await asyncio.sleep(0)
            yield f"{request_id}:{i}"

    @tracing.trace(span_type="AGENT")
    async def ahandle(request_id):
        await atool(request_id)
        return "".join([chunk async for chunk in astream(request_id)])

    async def main():
        return await asyncio.gather(*(ahandle(f"a{i}") for i in range(1000)))

    results = asyncio.run(main())
    assert results == [f"a{i}:0a{i}:1a{i}:2" for i in range(1000)]
    _assert_each_request_is_one_trace(spans, 1000)
