import numpy as np

from neural_atlases.baking.unseen import fill_unseen, invented_matte, touched_texels, unseen_texels


def _identity_maps(t: int, h: int, w: int) -> np.ndarray:
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    return np.broadcast_to(np.stack([xs, ys], -1), (t, h, w, 2)).copy()


def test_touched_texels_are_the_four_around_each_point():
    maps = np.array([[[[1.5, 2.25]]]], np.float32)  # one pixel, between texels
    touched = touched_texels(maps, np.ones((1, 1, 1), bool), (5, 5))
    assert sorted(zip(*np.nonzero(touched), strict=True)) == [(2, 1), (2, 2), (3, 1), (3, 2)]


def test_texels_behind_a_subject_that_never_moves_are_unseen_and_filled():
    t, h, w = 3, 20, 30
    maps = _identity_maps(t, h, w)
    share = np.ones((t, h, w), np.float32)
    share[:, 5:15, 10:20] = 0.0  # the subject covers the same place in every frame
    unseen = unseen_texels(maps, share, (h, w))
    assert unseen[7:13, 12:18].all() and not unseen[:3].any() and not unseen[:, :8].any()
    rng = np.random.default_rng(0)
    rgb = np.full((h, w, 3), 120, np.uint8)
    rgb[unseen] = rng.integers(0, 256, (int(unseen.sum()), 3))  # what training left there
    filled = fill_unseen(rgb, unseen)
    assert np.abs(filled.astype(int) - 120).max() <= 2  # a smooth continuation of what surrounds it
    assert np.array_equal(filled[~unseen], rgb[~unseen])  # nothing seen is touched
    matte = invented_matte(maps[0], unseen)
    assert matte[10, 15] == 255 and matte[0, 0] == 0


def test_nothing_unseen_nothing_changed():
    rgb = np.random.default_rng(0).integers(0, 256, (6, 6, 3)).astype(np.uint8)
    assert fill_unseen(rgb, np.zeros((6, 6), bool)) is rgb
