"""Imports flow one way: foundation ← monitoring's catalogue ← schemas ← topics ← streams ← sinks ← the
application (CLI, demo, worker assembly, HTTP API, benchmarks). A module that imports a layer above its own
fails here, naming the file, the line and both layers."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# most specific prefix first; the layer of a module is that of the longest prefix it starts with
LAYERS = {
    "foundation": 0,
    "monitoring.metrics": 1, "monitoring.prometheus_config": 1,
    "schemas": 2,
    "topics": 3,
    "streams": 4,
    "sinks": 5,
    "pobi": 6, "monitoring": 6, "bench": 6,
}
NAMES = {0: "foundation", 1: "monitoring's catalogue", 2: "schemas", 3: "topics", 4: "streams", 5: "sinks",
         6: "application"}


def layer_of(module: str) -> int | None:
    matches = [prefix for prefix in LAYERS if module == prefix or module.startswith(prefix + ".")]
    return LAYERS[max(matches, key=len)] if matches else None


def modules() -> list[tuple[str, Path]]:
    found = []
    for top in ("foundation", "pobi", "schemas", "topics", "streams", "sinks", "monitoring", "bench"):
        for path in sorted((ROOT / top).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found.append((".".join(parts[:-1] if parts[-1] == "__init__" else parts), path))
    return found


def imports_of(path: Path) -> list[tuple[int, str]]:
    """Every module ``path`` imports, at the top or inside a function (a hidden import is still a dependency)."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append((node.lineno, node.module))
    return out


def test_every_import_points_down_or_sideways() -> None:
    upward = []
    for module, path in modules():
        own = layer_of(module)
        assert own is not None, module
        for line, target in imports_of(path):
            theirs = layer_of(target)
            if theirs is not None and theirs > own:
                upward.append(f"{path.relative_to(ROOT)}:{line}: {NAMES[own]} imports {target} ({NAMES[theirs]})")
    assert upward == [], "imports that run upwards:\n" + "\n".join(upward)


def test_the_foundation_imports_nothing_else_of_pobi_s() -> None:
    for module, path in modules():
        if layer_of(module) == 0:
            others = [t for _line, t in imports_of(path) if layer_of(t) is not None and layer_of(t) != 0]
            assert others == [], f"{module} imports {others}"


def test_the_layer_map_covers_every_module() -> None:
    assert all(layer_of(module) is not None for module, _path in modules())
