"""Tests of neural_atlases.export.compositing and the STMap convention: what a compositor gets
reproduces the tool's own render."""

from __future__ import annotations

import json

import numpy as np
import pytest

from neural_atlases.baking.bake import Baked
from neural_atlases.conventions import stmap_to_texel, texel_to_stmap
from neural_atlases.editing.render import Renderer, RenderOptions
from neural_atlases.evaluation.evaluate import psnr
from neural_atlases.export.compositing import composite_export, export_project, layer_images, stmap_image
from neural_atlases.io.images import read_frames, read_image, read_mask, read_rgba

T, H, W = 3, 12, 16


def _baked(seed: int = 0) -> Baked:
    """Two layers: smooth maps inside their atlases, a soft-edged foreground, smooth atlases."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:H, 0:W].astype(np.float32)
    grid = np.stack([xs, ys], -1)
    maps = [
        np.stack([grid * 1.3 + [1.0 + 0.7 * t, 2.0 + 0.2 * t] for t in range(T)]),
        np.stack([grid * 0.9 + [3.0 - 0.4 * t, 1.5] + 0.3 * np.sin(grid[..., ::-1] / 3) for t in range(T)]),
    ]
    fg = np.clip((xs - 4.0) / 5.0, 0.0, 1.0) * np.clip((ys - 2.0) / 3.0, 0.0, 1.0)
    shares = np.stack([np.stack([1.0 - fg, fg], -1)] * T)
    atlases = []
    for ah, aw in ((26, 30), (20, 24)):
        a = np.zeros((ah, aw, 4), np.uint8)
        ay, ax = np.mgrid[0:ah, 0:aw]
        a[..., :3] = np.stack([ax * 7 + 20, ay * 9 + 10, rng.integers(60, 70, (ah, aw))], -1)
        a[..., 3] = 255
        atlases.append(a)
    return Baked([m.astype(np.float32) for m in maps], shares.astype(np.float32), atlases)


def _frames(baked: Baked) -> np.ndarray:
    blank = np.zeros((T, H, W, 3), np.uint8)
    recon = np.stack(list(Renderer(baked, [None, None], RenderOptions(reconstruct=True)).frames(blank)))
    noise = np.random.default_rng(5).normal(0, 3, recon.shape)
    return (recon + noise).clip(0, 255).astype(np.uint8)


def test_stmap_convention_round_trips_and_puts_t_at_the_bottom():
    texel = np.array([[0.0, 0.0], [9.0, 4.0], [3.25, 1.5]])
    st = texel_to_stmap(texel, 5, 10)
    np.testing.assert_allclose(st[0], [0.05, 0.9])  # top-left texel centre: t near 1
    np.testing.assert_allclose(st[1], [0.95, 0.1])  # bottom-right: t near 0
    np.testing.assert_allclose(stmap_to_texel(st, 5, 10), texel, atol=1e-6)


def test_stmap_image_is_16_bit_and_within_a_hundredth_of_a_texel():
    baked = _baked()
    m = baked.maps[0][1]
    image = stmap_image(m, baked.atlases[0].shape[:2])
    assert image.dtype == np.uint16 and image.shape == (H, W, 3) and (image[..., 2] == 0).all()
    back = stmap_to_texel(image[..., :2] / 65535.0, *baked.atlases[0].shape[:2])
    assert np.abs(back - m).max() < 0.01


def test_layers_premultiplied_and_added_give_back_the_frame():
    baked = _baked()
    frames = _frames(baked)
    for t in range(T):
        layers = layer_images(baked, t, frames[t])
        total = sum(layer[..., :3].astype(float) * layer[..., 3:4] / 255.0 for layer in layers)
        assert np.abs(total - frames[t]).max() <= 2.0  # two 8-bit roundings


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    baked = _baked()
    frames = _frames(baked)
    out = tmp_path_factory.mktemp("export") / "comp"
    info = export_project(baked, frames, out, fps=24.0)
    return baked, frames, out, info


def test_export_writes_every_folder_and_the_manifest(exported):
    baked, frames, out, info = exported
    on_disk = json.loads((out / "manifest.json").read_text())
    assert on_disk == info
    assert on_disk["frames"] == T and on_disk["size"] == [W, H] and on_disk["fps"] == 24.0
    assert [layer["name"] for layer in on_disk["layers"]] == ["background", "foreground_0"]
    assert on_disk["layers"][1]["atlas_size"] == [24, 20]
    folders = ("layers/background", "layers/foreground_0", "mattes/foreground_0", "clean_plate")
    for folder in (*folders, "clean_plate_invented"):
        assert sorted(p.name for p in (out / folder).iterdir()) == [f"{t:05d}.png" for t in range(T)]
    assert not (out / "mattes" / "background").exists()
    np.testing.assert_array_equal(read_rgba(out / "atlases" / "foreground_atlas_0.png"), baked.atlases[1])
    layer = read_rgba(out / "layers" / "foreground_0" / "00001.png")
    np.testing.assert_array_equal(
        layer[..., 3], read_image(out / "mattes" / "foreground_0" / "00001.png")[..., 0]
    )
    np.testing.assert_allclose(
        read_mask(out / "mattes" / "foreground_0" / "00001.png"),
        baked.shares[1, ..., 1],
        atol=0.5 / 255 + 1e-6,
    )
    clean = read_frames(out / "clean_plate")
    expected = np.stack(
        list(Renderer(baked, [None, None], RenderOptions(remove=frozenset({1}))).frames(frames))
    )
    np.testing.assert_array_equal(clean, expected)


def test_atlases_through_stmaps_by_mattes_reproduce_the_render_within_half_a_db(exported):
    baked, frames, out, info = exported
    composite = composite_export(out)
    render = np.stack(list(Renderer(baked, [None, None], RenderOptions(reconstruct=True)).frames(frames)))
    assert abs(psnr(composite, frames) - psnr(render, frames)) < 0.5
    assert psnr(composite, render) > 40.0
