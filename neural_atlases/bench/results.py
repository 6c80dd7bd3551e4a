"""How every benchmark hands over its figures: the table printed, and written beside its data."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any


def finite(value: Any) -> Any:
    """``value`` with every non-finite float (a time never reached) as ``None``: JSON has no inf."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    return value


def publish(out: Path, name: str, table: str, data: Any) -> None:
    """Print ``table`` (markdown) and write ``out/NAME.md`` and ``out/NAME.json`` (``data``)."""
    print(table)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(finite(data), indent=2))
    (out / f"{name}.md").write_text(table + "\n")
