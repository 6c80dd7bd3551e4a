"""What the page receives of a frame: maps in 16 bits on cv2.remap's 1/32-texel grid."""

from __future__ import annotations

import numpy as np

from neural_atlases.baking.bake import Baked
from neural_atlases.studio.frames import MAX_LAYERS, decode_map, encode_map, map_encoding, pack_frame


def test_a_map_on_the_32nd_texel_grid_round_trips_exactly():
    rng = np.random.default_rng(0)
    m = (np.round(rng.uniform(-40, 300, (3, 5, 7, 2)) * 32) / 32).astype(np.float32)
    e = map_encoding(m)
    assert e.scale == 32
    np.testing.assert_array_equal(decode_map(encode_map(m, e), e), m)


def test_a_map_too_wide_for_16_bits_at_32_steps_takes_coarser_steps():
    m = np.array([[[0.0, 0.0], [3000.0, 10.0]]], np.float32)
    e = map_encoding(m)
    assert e.scale == 16
    assert np.abs(decode_map(encode_map(m, e), e) - m).max() <= 1 / 32


def test_pack_frame_lays_out_frame_shares_and_maps():
    h, w = 3, 4
    maps = [np.full((1, h, w, 2), 5.0, np.float32), np.full((1, h, w, 2), 7.5, np.float32)]
    shares = np.zeros((1, h, w, 2), np.float32)
    shares[..., 1] = 1.0
    baked = Baked(maps, shares, [np.zeros((9, 9, 4), np.uint8)] * 2)
    frame = np.full((h, w, 3), 9, np.uint8)
    encodings = [map_encoding(m) for m in maps]
    data = pack_frame(baked, frame, 0, encodings)
    n = h * w
    assert len(data) == 4 * n + 2 * MAX_LAYERS * n + 2 * (2 * 2 * n)
    rgba = np.frombuffer(data[: 4 * n], np.uint8).reshape(h, w, 4)
    assert (rgba[..., :3] == 9).all() and (rgba[..., 3] == 255).all()
    s = np.frombuffer(data[4 * n : 12 * n], "<u2").reshape(h, w, 4)
    assert (s[..., 1] == 65535).all() and (s[..., [0, 2, 3]] == 0).all()
    m1 = np.frombuffer(data[16 * n :], "<u2").reshape(h, w, 2)
    np.testing.assert_array_equal(decode_map(m1, encodings[1]), maps[1][0])
