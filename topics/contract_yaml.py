"""Reading a YAML file while remembering where each value stood, so that an error can name the line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

__all__ = ["LocatedYaml", "read_located_yaml"]

Path_ = tuple[str | int, ...]


class LocatedYaml:
    """The parsed document and the line (1-based) of every key and item in it."""

    def __init__(self, data: Any, lines: dict[Path_, int]) -> None:
        self.data = data
        self._lines = lines

    def line(self, path: Path_) -> int | None:
        """The line of ``path`` or of its nearest ancestor that has one."""
        for end in range(len(path), -1, -1):
            found = self._lines.get(tuple(path[:end]))
            if found is not None:
                return found
        return None


def _walk(node: yaml.Node, path: Path_, lines: dict[Path_, int]) -> None:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            child = (*path, key.value)
            lines[child] = key.start_mark.line + 1
            _walk(value, child, lines)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, (*path, index), lines)


def read_located_yaml(path: Path) -> LocatedYaml:
    """Parse ``path``; yaml.YAMLError (with its own line) if it is not YAML."""
    text = path.read_text(encoding="utf-8")
    node = yaml.compose(text, Loader=yaml.SafeLoader)
    lines: dict[Path_, int] = {}
    if node is not None:
        _walk(node, (), lines)
    return LocatedYaml(yaml.safe_load(text), lines)
