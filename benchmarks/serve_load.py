"""The load generator of benchmarks/serve.py: raw asyncio streams in its own process (on uvloop when importable).

Reads JSON lines on stdin, {"port", "requests", "concurrency"} or {"quit": true}, and answers one JSON line each:
wall and CPU seconds of this process for the run, the latency of every answered request (ms), and how many were
answered in full (status 200 and the stream's done event before the end of the chunked body). `concurrency`
keep-alive connections each send one request at a time until `requests` were sent.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

BODY = json.dumps({"input": [{"role": "user", "content": "how do I return a bike?"}],
                   "context": {"conversation_id": "bench", "user_id": "u"}}).encode()
REQUEST = (b"POST /invocations HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
           b"Content-Length: " + str(len(BODY)).encode() + b"\r\n\r\n" + BODY)
END = b"\r\n0\r\n\r\n"  # the last chunk of a chunked body; SSE data lines are JSON, which never holds a raw CRLF
DONE = b'"response.output_item.done"'


async def _connection(port: int, remaining: list[int], latencies: list[float], failures: list[str]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while remaining[0] > 0:
            remaining[0] -= 1
            start = time.perf_counter()
            writer.write(REQUEST)
            head = await reader.readuntil(b"\r\n\r\n")
            if not head.startswith(b"HTTP/1.1 200") or b"chunked" not in head.lower():
                failures.append(head[:200].decode("latin-1"))
                return
            tail, done = b"", False
            while not tail.endswith(END):
                data = await reader.read(65536)
                if not data:
                    failures.append("connection closed mid-stream")
                    return
                tail += data
                done = done or DONE in tail
                tail = tail[-64:]
            if done:
                latencies.append((time.perf_counter() - start) * 1e3)
            else:
                failures.append("stream ended without its done event")
    finally:
        writer.close()


async def run(port: int, requests: int, concurrency: int) -> dict[str, Any]:
    """Send `requests` requests over `concurrency` connections; time them."""
    remaining = [requests]
    latencies: list[float] = []
    failures: list[str] = []
    wall, cpu = time.perf_counter(), time.process_time()
    results = await asyncio.gather(*(_connection(port, remaining, latencies, failures) for _ in range(concurrency)),
                                   return_exceptions=True)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    failures += [repr(r) for r in results if isinstance(r, BaseException)]
    return {"wall_s": wall, "cpu_s": cpu, "latencies_ms": latencies, "answered": len(latencies), "failures": failures[:5], "failed": len(failures)}


def main() -> int:
    """Serve load requests on stdin until told to quit."""
    try:
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
        loop = "uvloop"
    except ImportError:
        loop = "asyncio"
    print(json.dumps({"ready": True, "loop": loop}), flush=True)
    for line in sys.stdin:
        command = json.loads(line)
        if command.get("quit"):
            break
        print(json.dumps(asyncio.run(run(command["port"], command["requests"], command["concurrency"]))), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
