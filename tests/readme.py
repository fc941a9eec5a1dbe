"""The README's code as a reader copies it: a ```python block that defines a function, run as it stands."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["readme_function"]

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_function(name: str) -> Callable[..., Any]:
    """The function ``name`` from the one README code block that defines it."""
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    [snippet] = [block for block in blocks if f"def {name}(" in block]
    namespace: dict[str, Any] = {}
    exec(snippet, namespace)
    return namespace[name]  # type: ignore[no-any-return]
