"""Caches that carry a fingerprint of what they were made from.

A cache file is an ``.npz`` of arrays plus a ``__key__`` entry: the JSON of what it was made from
(the frames' fingerprint, the settings). A cache whose key differs, or that cannot be read (a
half-written file), is rebuilt, never trusted. Writes are atomic.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from neural_atlases.io.images import atomic_write_path

KEY = "__key__"


def cache_key(**parts: Any) -> str:
    """A canonical string of what a cache is made from."""
    return json.dumps(parts, sort_keys=True, default=str)


def read_cache(path: Path, key: str) -> dict[str, np.ndarray] | None:
    """The arrays cached in ``path`` if they were made from ``key``; otherwise None."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            if KEY not in data.files or str(data[KEY]) != key:
                return None
            return {name: data[name] for name in data.files if name != KEY}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError, KeyError):
        return None


def write_cache(path: Path, key: str, arrays: dict[str, np.ndarray]) -> None:
    """Write arrays with their key, atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write_path(path) as tmp, open(tmp, "wb") as f:
        # numpy's stub types every keyword as its allow_pickle: bool
        np.savez(f, **{KEY: np.asarray(key)}, **arrays)  # type: ignore[arg-type]


def cached(path: Path, key: str, compute: Callable[[], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Arrays from the cache when fresh, else computed and cached."""
    found = read_cache(path, key)
    if found is not None:
        return found
    arrays = compute()
    write_cache(path, key, arrays)
    return arrays
