"""Reading a YAML file while remembering where each value stood, so that an error can name the line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

__all__ = ["LocatedYaml", "UnsafeYaml", "located_or_refused", "read_located_yaml", "where"]

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


class UnsafeYaml(ValueError):  # noqa: N818 - a refusal of the document, with its line
    def __init__(self, line: int | None, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


def _refuse_aliases(text: str) -> None:
    """Contracts need no anchors or aliases; refusing them makes an alias bomb impossible, and reading
    events does not expand anything."""
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            line = event.start_mark.line + 1 if event.start_mark else None
            raise UnsafeYaml(line, "anchors and aliases (&, *) are not allowed here")


def _refuse_repeated_keys(node: yaml.Node) -> None:
    """YAML takes the last of two equal keys without a word: a second ``filter: {}`` would silently widen
    a filter to everything. Refuse instead."""
    if isinstance(node, yaml.MappingNode):
        seen: dict[object, int] = {}
        for key, value in node.value:
            name = key.value if isinstance(key, yaml.ScalarNode) else repr(key)
            if name in seen:
                raise UnsafeYaml(key.start_mark.line + 1, f"key {name!r} is given twice (first on line {seen[name]})")
            seen[name] = key.start_mark.line + 1
            _refuse_repeated_keys(value)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _refuse_repeated_keys(item)


def read_located_yaml(path: Path, max_bytes: int = 64 * 1024) -> LocatedYaml:
    """Parse ``path``; yaml.YAMLError (with its own line) if it is not YAML, UnsafeYaml (with its line) if it
    is larger than ``max_bytes``, has anchors or aliases, or repeats a key."""
    with path.open("rb") as f:
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise UnsafeYaml(None, f"the file is larger than {max_bytes // 1024} KiB; a definition is a page of YAML")
    text = data.decode("utf-8")
    _refuse_aliases(text)
    node = yaml.compose(text, Loader=yaml.SafeLoader)
    lines: dict[Path_, int] = {}
    if node is not None:
        _refuse_repeated_keys(node)
        _walk(node, (), lines)
    return LocatedYaml(yaml.safe_load(text), lines)


def located_or_refused(path: Path) -> LocatedYaml | str:
    """The located document, or the one-line ``file[:line]: problem`` that refuses it."""
    try:
        return read_located_yaml(path)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        return f"{path}{line}: not valid YAML: {getattr(exc, 'problem', exc)}"
    except UnsafeYaml as exc:
        return f"{path}{f':{exc.line}' if exc.line else ''}: {exc.message}"
    except UnicodeDecodeError:
        return f"{path}: not UTF-8 text"
    except OSError as exc:
        return f"{path}: cannot be read: {exc.strerror}"


def where(path: Path, located: LocatedYaml, loc: tuple[str | int, ...], message: str) -> str:
    line = located.line(loc)
    return f"{path}:{line}: {message}" if line else f"{path}: {message}"
