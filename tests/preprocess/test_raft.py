"""Tests of neural_atlases.preprocess.raft and the flow registry: RAFT built with random weights,
saved to a file and loaded through the same path a user's weights take; DIS as a pair-flow
function agrees with ``compute_flows``' own DIS."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neural_atlases.errors import UserError
from neural_atlases.preprocess.backends import dis_pair_flow, flow_backend
from neural_atlases.preprocess.flow import compute_flows
from neural_atlases.preprocess.raft import MIN_SIDE, padding_for


def frames_of(t: int = 3, h: int = 32, w: int = 48) -> np.ndarray:
    rng = np.random.default_rng(0)
    return np.kron(rng.integers(0, 256, (t, h // 4, w // 4, 3)), np.ones((1, 4, 4, 1))).astype(np.uint8)


@pytest.mark.parametrize(("h", "w", "pad"), [(32, 48, (96, 80)), (144, 176, (0, 0)), (130, 200, (6, 0))])
def test_padding_for(h, w, pad):
    assert padding_for(h, w) == pad
    assert (h + pad[0]) % 8 == 0 and (w + pad[1]) % 8 == 0
    assert min(h + pad[0], w + pad[1]) >= MIN_SIDE


def test_raft_with_random_weights_runs_through_the_users_path(tmp_path):
    from torchvision.models.optical_flow import raft_large

    torch.manual_seed(0)
    path = tmp_path / "raft.pth"
    torch.save(raft_large(weights=None).state_dict(), path)
    backend = flow_backend("raft", weights=str(path))
    assert backend.name == "raft" and backend.settings["weights"]["size"] > 0
    frames = frames_of(t=2)
    calls = []
    forward, backward = compute_flows(
        frames, 1, progress=lambda d, n: calls.append(d), pair_flow=backend.pair_flow
    )
    assert forward.shape == backward.shape == (1, 32, 48, 2) and forward.dtype == np.float32
    assert np.isfinite(forward).all() and np.isfinite(backward).all()
    assert calls == [1]
    # the pair is run as one batch [a, b] -> [b, a]: the first pair's forward flow alone agrees
    alone = backend.pair_flow(frames[:1], frames[1:2])
    np.testing.assert_allclose(alone[0], forward[0], atol=1e-3)


def test_dis_pair_flow_matches_compute_flows():
    frames = frames_of()
    reference = compute_flows(frames, 1)
    through = compute_flows(frames, 1, pair_flow=dis_pair_flow())
    for a, b in zip(reference, through, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)
    assert flow_backend("dis").pair_flow is None


def test_unknown_flow_backend_and_missing_weights(tmp_path, monkeypatch):
    with pytest.raises(UserError, match="unknown flow backend 'farneback'"):
        flow_backend("farneback")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setenv("NEURAL_ATLASES_OFFLINE", "1")
    with pytest.raises(UserError, match='raft_large_C_T_SKHT_V2-ff5fadd5.pth.*flow "dis"'):
        flow_backend("raft")
    with pytest.raises(UserError, match="preprocess.flow_weights"):
        flow_backend("raft", weights=str(tmp_path / "none.pth"))
