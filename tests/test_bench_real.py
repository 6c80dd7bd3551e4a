"""The real-clip benchmark's own pieces (its runs use the real clips and models: ``make bench-real``)."""

import pytest

from neural_atlases.bench_real import CLIPS, real_table, resolve_source
from neural_atlases.errors import UserError


def test_the_table_has_a_column_per_clip_and_shows_its_targets():
    text = real_table({"carphone": {"reconstruction_psnr": 33.456, "steps": 10.0}})
    lines = text.splitlines()
    assert lines[0] == "| measure | carphone |"
    assert "| reconstruction PSNR (dB) | 33.46 (>= 33) |" in lines
    assert "| training steps | 10.00 |" in lines


def test_a_missing_clip_says_how_to_get_it(tmp_path):
    with pytest.raises(UserError, match="make real-clips"):
        resolve_source(str(tmp_path / "none.avi"))


def test_every_clip_has_a_budget_and_frames():
    for clip in CLIPS.values():
        assert clip.minutes > 0 and clip.frames[1] > clip.frames[0]
