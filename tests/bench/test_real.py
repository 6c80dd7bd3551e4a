"""The real-clip benchmark's own pieces (its runs use the real clips and models: ``make bench-real``)."""

import pytest

from neural_atlases.bench.real import CLIPS, real_table, resolve_source
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


def test_reference_frames_avoid_the_models_keyframes():
    from neural_atlases.bench.real import reference_frames

    picks = reference_frames(70, [0, 6, 13, 19, 25, 31, 38, 44, 50, 56, 63, 69])
    assert len(picks) == 6 and not set(picks) & {0, 6, 13, 19, 25, 31, 38, 44, 50, 56, 63, 69}
    assert picks[0] < 10 and picks[-1] > 60  # spread over the clip
    assert reference_frames(3, [0, 1, 2]) == [0, 1, 2]  # nothing left to avoid


def test_reference_masks_take_the_model_the_project_did_not_train_with(tmp_path, monkeypatch, tiny_isnet):
    import json

    import numpy as np

    from neural_atlases.bench.real import reference_masks

    models = tmp_path / "models"
    models.mkdir()
    (models / "isnet_medium.onnx").write_bytes(tiny_isnet.read_bytes())
    monkeypatch.setenv("NEURAL_ATLASES_MODELS", str(models))
    (tmp_path / "results").mkdir()
    about = tmp_path / "results" / "masks.json"
    frames = np.zeros((9, 20, 30, 3), np.uint8)
    frames[:, :, :15, 0] = 255
    about.write_text(json.dumps({"backend": "auto", "used": "isnet", "keyframes": [0, 4, 8]}))
    name, picks, mattes = reference_masks(tmp_path, frames)
    assert name.startswith("isnet") and not set(picks) & {0, 4, 8} and mattes.shape == (len(picks), 20, 30)
    about.write_text(json.dumps({"backend": "auto", "used": "rvm"}))
    name, picks, _ = reference_masks(tmp_path, frames)
    assert name == "isnet" and len(picks) == 6
    models.joinpath("isnet_medium.onnx").unlink()
    assert reference_masks(tmp_path, frames) is None  # no other model in the cache


def test_the_benchmark_starts_from_an_empty_model_cache(tmp_path):
    from neural_atlases.bench.real import empty_model_cache

    cache = tmp_path / "model_cache"
    cache.mkdir()
    (cache / "rvm_mobilenetv3_fp32.onnx").write_bytes(b"left from the last run")
    assert empty_model_cache(cache) == cache and list(cache.iterdir()) == []


def test_an_atlas_detail_shows_each_texel_as_a_square():
    import numpy as np

    from neural_atlases.bench.sheets import ZOOM, zoomed_detail

    atlas = np.zeros((40, 60, 4), np.uint8)
    atlas[10:30, 20:50, :3] = np.arange(30, dtype=np.uint8)[None, :, None] * 8  # a ramp in x
    atlas[10:30, 20:50, 3] = 255
    detail = zoomed_detail(atlas, 8)
    assert detail.shape == (8 * ZOOM, 8 * ZOOM, 3)
    blocks = detail.reshape(8, ZOOM, 8, ZOOM, 3)
    assert (blocks == blocks[:, :1, :, :1]).all()  # every texel one flat square
    assert len(np.unique(detail[0, :, 0])) == 8  # eight texels across, each its own value
