"""`import tracing` loads what a traced call needs and nothing else (issue 15's import budget), checked by the modules
a fresh interpreter holds afterwards, not by timing: settings validation (pydantic), YAML, rich, the exporters, the
command line and the semantic-convention packages load when used."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

LOADED_WHEN_USED = (
    "yaml",
    "rich",
    "wrapt",
    "exporters._file",
    "exporters._processor",
    "exporters._delivery",
    "exporters._sampling",
    "exporters._uris",
    "exporters._otlp",
    "exporters.cli",
    "exporters.tracefiles",
    "exporters.evaluation",
    "opentelemetry.exporter",
    "opentelemetry.propagate",
    "openinference.semconv",
    "opentelemetry.semconv._incubating.attributes.gen_ai_attributes",
    "tracing._agent",
    "tracing._responses",
    "tracing._retriever",
)
"""Packages and modules `import tracing` must not load (a name stands for the module and everything beneath it)."""


def _loaded_after(code: str, cwd: Path = ROOT) -> set[str]:
    """The modules a fresh interpreter (no AGENT_TRACING_* or OTEL_* variables) holds after running `code`."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("AGENT_TRACING_", "OTEL_"))}
    environment["PYTHONPATH"] = str(ROOT)
    script = textwrap.dedent(code) + "\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))\n"
    run = subprocess.run([sys.executable, "-c", script], cwd=cwd, env=environment, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr[-3000:]
    return set(json.loads(run.stdout.splitlines()[-1]))


def _among(loaded: set[str], names: tuple[str, ...]) -> list[str]:
    return sorted(module for module in loaded if any(module == name or module.startswith(name + ".") for name in names))


def test_import_tracing_loads_no_exporter_yaml_rich_or_semantic_convention_package() -> None:
    loaded = _loaded_after("import tracing")
    assert "tracing._runtime" in loaded and "opentelemetry.sdk.trace" in loaded, "what a traced call needs is loaded"
    assert _among(loaded, LOADED_WHEN_USED) == []


def test_the_pytest_plugin_adds_nothing_to_a_test_session_that_does_not_use_it() -> None:
    loaded = _loaded_after("import pytest, tracing")
    plugin = _loaded_after("import pytest, tracing.pytest_plugin")
    assert plugin - loaded == {"tracing.pytest_plugin"}


def test_what_is_loaded_when_used_does_load_then() -> None:
    """The check above can fail: configuring an OTLP exporter and tail sampling from a YAML file loads them."""
    loaded = _loaded_after("""
        import pathlib, tempfile, tracing
        config = pathlib.Path(tempfile.mkdtemp()) / "tracing.yaml"
        config.write_text("sampling: {ratio: 0.5}\\n")
        tracing.configure(exporters=["otlp+http://127.0.0.1:9/v1/traces"], config=str(config))
        tracing.shutdown(timeout_s=0.1)
    """)
    assert {"pydantic", "yaml", "exporters._processor", "exporters._sampling", "exporters._uris"} <= loaded


def test_neither_import_nor_a_default_configured_first_call_loads_pydantic(tmp_path: Path) -> None:
    loaded = _loaded_after("""
        import tracing

        @tracing.trace
        def step(x):
            return x

        step(1)
        tracing.shutdown(timeout_s=1)
    """, cwd=tmp_path)
    assert "tracing._decorator" in loaded and _among(loaded, ("pydantic", "pydantic_core")) == []


def test_the_runtime_s_shutdown_bound_is_the_batch_processor_s() -> None:
    """`tracing._runtime` spells the bound itself so that `import tracing` does not load `exporters._processor`."""
    from exporters import _processor
    from tracing import _runtime

    assert _runtime.SHUTDOWN_TIMEOUT_S == _processor.SHUTDOWN_TIMEOUT_S
