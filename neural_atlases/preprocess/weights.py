"""Where pretrained weights come from: a file the user names, torch's cache, or a download.

``locate_weights`` answers at once. A file named in the config must exist. Otherwise the file is
looked for where torchvision keeps downloads (``torch.hub.get_dir()/checkpoints``, moved by
``TORCH_HOME``); when it is not there and the network cannot be reached (checked with a short
connection timeout, or skipped with ``NEURAL_ATLASES_OFFLINE=1``) the error names the file it
looked for and the options that work offline. A download has a read timeout, a progress bar, is
checked against the hash prefix in torchvision's file names and lands atomically: it never hangs
and never leaves half a file behind.
"""

from __future__ import annotations

import hashlib
import os
import re
import socket
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from neural_atlases.errors import UserError
from neural_atlases.progress import Progress

OFFLINE_ENV = "NEURAL_ATLASES_OFFLINE"
"""Set to 1 to never try the network (weights must then be on disk)."""

CONNECT_TIMEOUT_S = 3.0
"""How long the network check and each read of a download may wait."""


@dataclass(frozen=True)
class WeightsSpec:
    """What a model needs: where torchvision downloads it from and how to say what it is."""

    what: str
    """Human name of the model, for messages: ``Mask R-CNN``, ``RAFT``."""
    url: str
    """torchvision's download address; its base name is the file looked for in the cache."""
    config_key: str
    """The config key that names a weights file instead: ``preprocess.mask_weights``."""
    offline_options: str
    """What works without these weights, for the message."""

    @property
    def file_name(self) -> str:
        return Path(urllib.parse.urlparse(self.url).path).name


def cache_path(spec: WeightsSpec) -> Path:
    """Where torchvision keeps (or would keep) the downloaded file."""
    import torch.hub  # here, so that importing the package does not need torch's hub set up

    return Path(torch.hub.get_dir()) / "checkpoints" / spec.file_name


def network_reachable(url: str, timeout_s: float = CONNECT_TIMEOUT_S) -> bool:
    """Whether a TCP connection to ``url``'s host opens within ``timeout_s`` (False when
    ``NEURAL_ATLASES_OFFLINE`` is set)."""
    if os.environ.get(OFFLINE_ENV, "") not in ("", "0"):
        return False
    parts = urllib.parse.urlparse(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname or "", port), timeout=timeout_s):
            return True
    except OSError:
        return False


def locate_weights(
    spec: WeightsSpec,
    explicit: str | None,
    download: Callable[[str, Path], None] | None = None,
    reachable: Callable[[str], bool] = network_reachable,
) -> Path:
    """The weights file to load: ``explicit`` (from the config) if given, else the cached file,
    downloading it first where the network can be reached.

    Raises ``UserError`` (one line) when the named file is missing, or when nothing is cached
    and there is no network: the message names the file looked for and the offline options.
    ``download(url, path)`` defaults to ``download_file``.
    """
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise UserError(f"{spec.config_key}: {spec.what} weights file {path} not found")
        return path
    path = cache_path(spec)
    if path.is_file():
        return path
    if not reachable(spec.url):
        raise UserError(
            f"{spec.what} weights not found: looked for {path} and there is no network to download "
            f"them from {spec.url}; offline, copy that file there, name a file with "
            f"{spec.config_key}, or {spec.offline_options}"
        )
    (download or download_file)(spec.url, path)
    return path


def download_file(url: str, path: Path, timeout_s: float = CONNECT_TIMEOUT_S * 10) -> None:
    """Download ``url`` to ``path`` with a progress bar; each read waits at most ``timeout_s``.

    The file is written beside ``path`` and renamed on success; a torchvision file name's hash
    prefix (``name-<sha256 prefix>.pth``) is checked. Failures raise ``UserError``.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.part")
    digest = hashlib.sha256()
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response, open(tmp, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0)
            with Progress(total or None, f"downloading {path.name}", unit="B") as bar:
                while chunk := response.read(1 << 20):
                    out.write(chunk)
                    digest.update(chunk)
                    bar.update(len(chunk))
        expected = re.search(r"-([0-9a-f]{6,})\.", path.name)
        if expected and not digest.hexdigest().startswith(expected.group(1)):
            raise UserError(f"download of {url} is corrupt (sha256 does not match {expected.group(1)})")
        os.replace(tmp, path)
    except (OSError, urllib.error.URLError) as exc:
        raise UserError(f"cannot download {url} to {path}: {getattr(exc, 'reason', exc)}") from None
    finally:
        tmp.unlink(missing_ok=True)


def file_identity(path: Path) -> dict[str, Any]:
    """What a cache of results from a weights file depends on: its resolved path, size and time."""
    stat = path.stat()
    return {"path": str(path.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def load_state_dict(path: Path, spec: WeightsSpec) -> dict[str, Any]:
    """Read a state dict saved with ``torch.save`` (tensors only); a bad file is a ``UserError``."""
    import torch

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # any failure to unpickle is the file's fault
        raise UserError(f"{spec.what} weights {path} cannot be read: {str(exc).splitlines()[0]}") from None
    if not isinstance(state, dict):
        raise UserError(f"{spec.what} weights {path} do not hold a state dict")
    return state


def load_into(model: Any, path: Path, spec: WeightsSpec, assign: bool = False) -> Any:
    """Load the weights in ``path`` into ``model`` (strictly); a mismatch is a ``UserError``.

    ``assign``: the model's tensors become the file's (for a model built on the meta device).
    """
    state = load_state_dict(path, spec)
    try:
        model.load_state_dict(state, assign=assign)
    except RuntimeError as exc:
        reason = " ".join(str(exc).split())[:300]
        raise UserError(f"{spec.what} weights {path} do not fit the model: {reason}") from None
    left = [name for name, t in [*model.named_parameters(), *model.named_buffers()] if t.is_meta]
    if left:
        raise UserError(f"{spec.what} weights {path} lack {left[0]}")
    return model
