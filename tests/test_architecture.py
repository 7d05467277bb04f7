"""The shape of the code (issue 10, SPEC 1): no import cycle, exporters by layer, one table of keys, one recorder."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from tracing import keys

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("tracing", "exporters")
SPAN_WRITES = {"set_attribute", "set_attributes", "add_event", "set_status", "record_exception"}


def _modules() -> dict[str, Path]:
    """Every module of the two packages by dotted name (a package by its own name)."""
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _imports(tree: ast.Module, module: str, is_package: bool, modules: dict[str, Path] | None = None) -> Iterator[str]:
    """The modules a module imports anywhere, type-checking-only imports left out.

    `from package import module` imports the module (the package is merely entered); `from module import name`
    imports the module.
    """
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(child) for child in ast.walk(node))
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".") if is_package else module.split(".")[:-1]
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            submodules = [f"{base}.{alias.name}" for alias in node.names]
            if modules is None or not all(name in modules for name in submodules):
                yield base
            yield from submodules


def _graph() -> dict[str, set[str]]:
    """Edges between our modules; an import across the two packages also runs the other package's __init__."""
    modules = _modules()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for target in _imports(tree, name, path.name == "__init__.py", modules):
            if target not in modules or target == name:
                continue
            graph[name].add(target)
            top = target.split(".")[0]
            if top != name.split(".")[0]:
                graph[name].add(top)
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                return [*stack[stack.index(target):], target]
            if target not in state:
                found = visit(target)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_no_import_cycle_in_tracing_and_exporters() -> None:
    graph = _graph()
    assert sum(len(targets) for targets in graph.values()) > 50, "the import graph was not built"
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_the_sdk_components_at_the_top_of_exporters_import_nothing_from_tracing() -> None:
    modules = _modules()
    top = [name for name, path in modules.items() if name.startswith("exporters") and path.parent == ROOT / "exporters"]
    assert "exporters._file" in top and "exporters._processor" in top
    for name in top:
        path = modules[name]
        imported = set(_imports(ast.parse(path.read_text(encoding="utf-8")), name, path.name == "__init__.py"))
        assert not {target for target in imported if target.split(".")[0] == "tracing"}, name
        assert not {target for target in imported if target.startswith(("exporters.tracefiles", "exporters.evaluation",
                                                                         "exporters.cli", "exporters.demo"))}, name


def _strings(path: Path) -> Iterator[tuple[int, str]]:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node.lineno, node.value


def test_no_module_spells_an_attribute_key_of_the_table_again() -> None:
    dotted = {name for name in keys.KEYS if "." in name}
    assert "input.value" in dotted and "agent_tracing.stream.cancelled" in dotted
    spelled = [
        f"{path.relative_to(ROOT)}:{line}: {text!r}"
        for name, path in _modules().items() if name != "tracing.keys"
        for line, text in _strings(path) if text in dotted
    ]
    assert not spelled, spelled


def test_only_the_recorder_writes_to_opentelemetry_spans() -> None:
    writers = []
    for name, path in _modules().items():
        if not name.startswith("tracing") or name == "tracing._recorder":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in SPAN_WRITES:
                receiver = node.func.value
                text = ast.unparse(receiver)
                if text != "self" and not text.endswith("recorder"):
                    writers.append(f"{path.relative_to(ROOT)}:{node.lineno}: {ast.unparse(node.func)}")
    assert not writers, writers


def test_every_key_names_a_known_convention() -> None:
    assert {key.convention for key in keys.KEYS.values()} <= set(keys.CONVENTIONS)
    assert all(key.name == name and key.description for name, key in keys.KEYS.items())
