"""Property-based tests (hypothesis): random config JSON and random bytes read as images, masks,
videos and project metadata. Whatever comes in, a loader returns or raises ``UserError``; nothing
else may escape (it would reach the user as a traceback).

Random bytes rarely get past a decoder's first check, so half the inputs are real files (a PNG, a
JPEG, an MP4) with bytes overwritten or cut off, which reach the decoders' insides.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from neural_atlases.config import Config, load_config, to_dict
from neural_atlases.errors import UserError
from neural_atlases.io.images import read_frames, read_image, read_mask, read_masks, read_rgba
from neural_atlases.io.project import Project
from neural_atlases.io.video import read_video, write_video

FUZZ = settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


def _encoded(fmt: str) -> bytes:
    rng = np.random.default_rng(0)
    buffer = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)).save(buffer, format=fmt)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    """A folder for the examples' files, with a real ``seed.png``, ``seed.jpg`` and ``seed.mp4``."""
    folder = tmp_path_factory.mktemp("fuzz")
    (folder / "seed.png").write_bytes(_encoded("PNG"))
    (folder / "seed.jpg").write_bytes(_encoded("JPEG"))
    frames = np.random.default_rng(0).integers(0, 256, (3, 16, 16, 3), dtype=np.uint8)
    write_video(folder / "seed.mp4", frames, fps=10)
    return folder


def mutated(seed: bytes) -> st.SearchStrategy[bytes]:
    """A real file with some bytes overwritten and maybe cut short."""

    @st.composite
    def build(draw) -> bytes:
        data = bytearray(seed)
        for _ in range(draw(st.integers(1, 8))):
            at = draw(st.integers(0, len(data) - 1))
            data[at] = draw(st.integers(0, 255))
        cut = draw(st.one_of(st.none(), st.integers(0, len(data))))
        return bytes(data[:cut])

    return build()


def some_bytes(work: Path, kind: str) -> st.SearchStrategy[bytes]:
    """Random bytes, or a real ``kind`` file of ``work`` damaged."""
    return st.one_of(st.binary(max_size=300), mutated((work / f"seed.{kind}").read_bytes()))


def _only_user_errors(load, *args):
    """Call a loader; a UserError is fine (and must be one line), anything else fails the test."""
    try:
        return load(*args)
    except UserError as e:
        assert "\n" not in str(e), str(e)
        return None


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@st.composite
def config_like(draw) -> dict:
    """A dict shaped like a config, some keys real and some not, the values random JSON."""
    sections = to_dict(Config())
    data: dict = {}
    for section, fields in sections.items():
        if draw(st.booleans()):
            keys = draw(st.lists(st.sampled_from(sorted(fields)), max_size=4, unique=True))
            data[section] = {k: draw(json_values) for k in keys}
            if draw(st.integers(0, 9)) == 0:
                data[section][draw(st.text(max_size=6))] = draw(json_values)
    return data


@FUZZ
@given(value=st.one_of(json_values, config_like()))
def test_random_config_json_gives_a_config_or_a_user_error(work, value):
    path = work / "config.json"
    path.write_text(json.dumps(value))
    config = _only_user_errors(load_config, path)
    assert config is None or isinstance(config, Config)


@FUZZ
@given(data=st.binary(max_size=200))
def test_random_bytes_as_a_config(work, data):
    path = work / "raw.json"
    path.write_bytes(data)
    _only_user_errors(load_config, path)


@pytest.mark.parametrize("kind", ["png", "jpg"])
@FUZZ
@given(data=st.data())
def test_random_bytes_as_images_and_masks(work, kind, data):
    blob = data.draw(some_bytes(work, kind))
    path = work / f"image.{kind}"
    path.write_bytes(blob)
    for read in (read_image, read_rgba, read_mask):
        image = _only_user_errors(read, path)
        if image is not None:
            assert image.dtype in (np.uint8, np.float32) and image.shape[0] > 0 and image.shape[1] > 0


@FUZZ
@given(data=st.data())
def test_random_bytes_in_folders_of_frames_and_masks(work, data):
    first, second = data.draw(some_bytes(work, "png")), data.draw(some_bytes(work, "png"))
    folder = work / "frames"
    folder.mkdir(exist_ok=True)
    (folder / "00000.png").write_bytes(first)
    (folder / "00001.png").write_bytes(second)
    frames = _only_user_errors(read_frames, folder)
    if frames is not None:
        assert frames.shape[0] == 2 and frames.dtype == np.uint8
        masks = _only_user_errors(read_masks, folder, 2, frames.shape[1], frames.shape[2])
        assert masks is None or masks.shape == frames.shape[:3]


@settings(max_examples=40, deadline=None, database=None)
@given(data=st.data())
def test_random_bytes_as_a_video(work, data):
    blob = data.draw(some_bytes(work, "mp4"))
    path = work / "clip.mp4"
    path.write_bytes(blob)
    result = _only_user_errors(read_video, path)
    if result is not None:
        frames, fps = result
        assert frames.ndim == 4 and frames.shape[3] == 3 and fps > 0


@FUZZ
@given(blob=st.one_of(st.binary(max_size=100), json_values.map(lambda v: json.dumps(v).encode())))
def test_random_project_metadata(work, blob):
    root = work / "project"
    (root / "results").mkdir(parents=True, exist_ok=True)
    (root / "results" / "project.json").write_bytes(blob)
    project = Project(root)
    meta = _only_user_errors(project.load_meta)
    assert meta is None or isinstance(meta, dict)
    fps = _only_user_errors(project.fps)
    assert fps is None or fps > 0
