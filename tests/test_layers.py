"""The package's layers: data flows one way (case -> loaders -> detectors -> exposure -> findings
-> report), so no module imports one of a higher layer, and the import graph has no cycle.

Every import counts, also one inside a function.
"""

from __future__ import annotations

import ast
from pathlib import Path

import forensics

ROOT = Path(forensics.__file__).parent

#: Lowest first. A module may import its own layer's modules and lower layers' modules only.
LAYERS: list[tuple[str, ...]] = [
    ("schemas", "frames", "ipaddr", "platforms", "vocabulary", "errors", "rules"),  # data types and frames, addresses, shop software, the findings' words
    ("filemap", "newlines"),  # read-only mapped windows of a file; newlines counted in raw bytes
    ("evidence", "cards"),  # reading evidence bytes safely; card-number handling
    ("loaders",),  # raw evidence -> typed tables
    ("tablecache", "manifest", "engine"),  # the line logs parsed once (in this process or on a cluster)
    ("case",),  # one case: its evidence through the loaders
    ("gaps", "timeline"),
    ("detectors",),
    ("exposure",),
    ("findings",),
    ("markup", "display", "charts", "widgets", "report"),  # presentation
    ("workspace", "pipeline"),
    ("session",),  # the notebook session over one output folder
    ("cli",),
]
#: The sample generator stands apart: it imports nothing of the analysis, and only the command
#: line imports it.
APART = "sample"


def _unit(module: str) -> str:
    """forensics.detectors.sqli -> detectors; forensics -> '' (the package itself)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _edges() -> set[tuple[str, str]]:
    """(importing module, imported forensics module) for every import in the package."""
    out = set()
    for path in ROOT.rglob("*.py"):
        me = _module_name(path)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and node.module.split(".")[0] == "forensics":
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    target = full if (ROOT.parent / full.replace(".", "/")).with_suffix(".py").exists() or \
                        (ROOT.parent / full.replace(".", "/")).is_dir() else node.module
                    out.add((me, target))
            elif isinstance(node, ast.Import):
                out.update((me, a.name) for a in node.names if a.name.split(".")[0] == "forensics")
    return {(a, b) for a, b in out if a != b}


def _layer(unit: str) -> int:
    for i, units in enumerate(LAYERS):
        if unit in units:
            return i
    raise AssertionError(f"forensics.{unit} is in no layer: add it to LAYERS")


def test_no_module_imports_a_higher_layer():
    upward = []
    for a, b in sorted(_edges()):
        ua, ub = _unit(a), _unit(b)
        if ua == "" or ub == "" or ua == ub:
            continue
        if APART in (ua, ub):
            if ua == APART or ua != "cli":
                upward.append(f"{a} -> {b} (the generator stands apart)")
            continue
        if _layer(ua) < _layer(ub):
            upward.append(f"{a} -> {b}")
    assert upward == []


def test_import_graph_has_no_cycle():
    graph: dict[str, set[str]] = {}
    for a, b in _edges():
        graph.setdefault(a, set()).add(b)
    state: dict[str, int] = {}
    cycles = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join(stack[stack.index(nxt):] + [nxt]) if nxt in stack else f"{node} -> {nxt}")
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    # the package's own __init__ re-exports lazily; its edges are not a cycle of the layers
    assert [c for c in cycles if not c.startswith("forensics -> ")] == []


def test_every_unit_of_the_package_has_a_layer():
    units = {_unit(_module_name(p)) for p in ROOT.rglob("*.py")} - {"", APART}
    for unit in units:
        _layer(unit)
