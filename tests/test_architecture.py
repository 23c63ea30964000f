"""The imports point one way: wiring, then handlers and jobs, then the chat runtime and the
documents, then the database; and no two packages import each other, even through others.

Read from the source with `ast`, so the rule holds for imports inside functions too.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOP = ("bot", "handlers", "scheduler", "db")
WIRING = (
    "bot.app",
    "bot.cli",
    "bot.console",
    "bot.persistence",
    "bot.request",
    "bot.updates",
    "bot.web",
)
FLOORS: list[tuple[str, ...]] = [
    (*WIRING, "bot.fakeapi"),
    ("handlers", "scheduler"),
    ("bot.runtime", "bot.documents"),
    ("db",),
]
"""Top floor first: a module may import its own floor's and lower floors' modules only."""


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    found = {}
    for top in TOP:
        for path in (ROOT / top).rglob("*.py"):
            if "migrations" not in path.parts:
                found[_module(path)] = path
    return found


def _imports(path: Path) -> Iterator[str]:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def _edges() -> dict[str, set[str]]:
    modules = _modules()
    edges: dict[str, set[str]] = defaultdict(set)
    for name, path in modules.items():
        for target in _imports(path):
            if target.split(".")[0] in TOP and target in modules and target != name:
                edges[name].add(target)
    return edges


def _floor(module: str) -> int:
    for index, floor in enumerate(FLOORS):
        if any(module == prefix or module.startswith(prefix + ".") for prefix in floor):
            return index
    raise AssertionError(f"{module} stands on no floor: add it to FLOORS")


def _package(module: str, modules: dict[str, Path]) -> str:
    """The folder a module lives in (a package's __init__ belongs to its own folder)."""
    path = modules[module]
    return ".".join(path.relative_to(ROOT).parent.parts)


def test_no_import_runs_up_a_floor() -> None:
    upward = [
        f"{a} -> {b}" for a, targets in _edges().items() for b in targets if _floor(b) < _floor(a)
    ]
    assert upward == []


def test_handlers_and_jobs_do_not_import_each_other() -> None:
    crossing = [
        f"{a} -> {b}"
        for a, targets in _edges().items()
        for b in targets
        if {a.split(".")[0], b.split(".")[0]} == {"handlers", "scheduler"}
    ]
    assert crossing == []


def test_the_runtime_does_not_import_the_documents() -> None:
    found = [
        f"{a} -> {b}"
        for a, targets in _edges().items()
        for b in targets
        if a.startswith("bot.runtime") and b.startswith("bot.documents")
    ]
    assert found == []


def test_no_cycle_between_packages() -> None:
    graph = package_graph()

    def reaches(start: str, goal: str) -> bool:
        seen, stack = set(), [start]
        while stack:
            for nxt in graph.get(stack.pop(), ()):
                if nxt == goal:
                    return True
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append(nxt)
        return False

    cycles = sorted({tuple(sorted((a, b))) for a in graph for b in graph[a] if reaches(b, a)})
    assert cycles == []


def test_every_module_is_seen() -> None:
    """The checks above would pass vacuously if the walk found nothing."""
    modules = _modules()
    assert {"bot.app", "bot.runtime.turn", "handlers.cases.report", "db.models"} <= set(modules)
    assert "db.models" in _edges()["db.cases.rules"]


def package_graph() -> dict[str, set[str]]:
    """Which folder imports which, for people: `python tests/test_architecture.py`."""
    modules = _modules()
    graph: dict[str, set[str]] = defaultdict(set)
    for a, targets in _edges().items():
        for b in targets:
            pa, pb = _package(a, modules), _package(b, modules)
            if pa != pb:
                graph[pa].add(pb)
    return graph


if __name__ == "__main__":
    for package, imported in sorted(package_graph().items()):
        print(f"{package} -> {', '.join(sorted(imported))}")
