"""Interleaved timing runs and ratio tables shared by the benchmarks."""

from __future__ import annotations

import gc
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult


class NullExporter(SpanExporter):
    """Accepts every batch and keeps nothing: the request thread's cost is what is left to measure."""

    def export(self, spans: Sequence[Any]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def interleaved(variants: dict[str, Callable[[], Any]], *, number: int, rounds: int) -> dict[str, float]:
    """Median seconds per call of each variant, the variants run in turn in every round."""
    samples: dict[str, list[float]] = {name: [] for name in variants}
    for fn in variants.values():
        for _ in range(max(1, number // 10)):
            fn()
    gc.collect()
    for _ in range(rounds):
        for name, fn in variants.items():
            start = time.perf_counter()
            for _ in range(number):
                fn()
            samples[name].append((time.perf_counter() - start) / number)
    return {name: statistics.median(values) for name, values in samples.items()}


def machine() -> str:
    """One line naming the machine and interpreter."""
    return f"{platform.machine()} {platform.processor() or ''} Python {platform.python_version()}".replace("  ", " ")


def table(title: str, rows: list[tuple[str, float, float | None]], unit: str = "us") -> str:
    """A plain-text table: name, time, ratio against the floor."""
    lines = [title, f"{'variant':<44}{'time (' + unit + ')':>14}{'ratio':>10}"]
    for name, seconds, ratio in rows:
        scaled = seconds * (1e6 if unit == "us" else 1e3)
        lines.append(f"{name:<44}{scaled:>14.2f}{(f'{ratio:.2f}x' if ratio is not None else ''):>10}")
    return "\n".join(lines)
