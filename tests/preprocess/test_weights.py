"""Tests of neural_atlases.preprocess.weights: a named file, torch's cache, offline failures, and
a download (from a local file:// address, with its hash checked)."""

from __future__ import annotations

import hashlib
import time

import pytest
import torch

from neural_atlases.errors import UserError
from neural_atlases.preprocess.weights import (
    WeightsSpec,
    cache_path,
    download_file,
    file_identity,
    load_into,
    locate_weights,
    network_reachable,
)

SPEC = WeightsSpec(
    what="Test net",
    url="https://download.example.invalid/models/testnet-0123abcd.pth",
    config_key="preprocess.test_weights",
    offline_options='use "motion"',
)


@pytest.fixture()
def torch_home(tmp_path, monkeypatch):
    """An empty torch cache, and no network."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("NEURAL_ATLASES_OFFLINE", "1")
    return tmp_path / "torch"


def test_cache_path_is_torchvisions(torch_home):
    assert cache_path(SPEC) == torch_home / "hub" / "checkpoints" / "testnet-0123abcd.pth"


def test_a_named_file_is_used_and_a_missing_one_is_named(tmp_path, torch_home):
    path = tmp_path / "mine.pth"
    path.write_bytes(b"x")
    assert locate_weights(SPEC, str(path)) == path
    with pytest.raises(UserError, match="preprocess.test_weights: .*missing.pth not found"):
        locate_weights(SPEC, str(tmp_path / "missing.pth"))


def test_the_cached_file_is_used(torch_home):
    path = cache_path(SPEC)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"x")
    assert locate_weights(SPEC, None, download=pytest.fail) == path


def test_offline_without_weights_fails_at_once_naming_the_file_and_the_options(torch_home):
    start = time.monotonic()
    with pytest.raises(UserError) as info:
        locate_weights(SPEC, None, download=pytest.fail)
    assert time.monotonic() - start < 5  # no hang (a generous bound: nothing is waited for)
    message = str(info.value)
    assert "\n" not in message
    assert str(cache_path(SPEC)) in message
    assert "preprocess.test_weights" in message and 'use "motion"' in message
    assert not network_reachable(SPEC.url)


def test_with_a_network_the_file_is_downloaded_to_the_cache(torch_home):
    got = []
    path = locate_weights(SPEC, None, download=lambda url, p: got.append((url, p)), reachable=lambda u: True)
    assert got == [(SPEC.url, cache_path(SPEC))] and path == cache_path(SPEC)


def test_download_file_checks_the_hash_prefix(tmp_path):
    source = tmp_path / "source.bin"
    source.write_bytes(b"weights" * 1000)
    prefix = hashlib.sha256(source.read_bytes()).hexdigest()[:8]
    good = tmp_path / "cache" / f"net-{prefix}.pth"
    download_file(source.as_uri(), good)
    assert good.read_bytes() == source.read_bytes()
    bad = tmp_path / "cache" / "net-00000000.pth"
    with pytest.raises(UserError, match="corrupt"):
        download_file(source.as_uri(), bad)
    assert not bad.exists() and not list(bad.parent.glob(".*part"))
    with pytest.raises(UserError, match="cannot download"):
        download_file((tmp_path / "nothing").as_uri(), tmp_path / "cache" / "x.pth")


def test_load_into_reports_bad_files(tmp_path):
    model = torch.nn.Linear(3, 2)
    good = tmp_path / "good.pth"
    torch.save(model.state_dict(), good)
    loaded = load_into(torch.nn.Linear(3, 2), good, SPEC)
    torch.testing.assert_close(loaded.weight, model.weight)
    with pytest.raises(UserError, match="do not fit the model"):
        load_into(torch.nn.Linear(4, 2), good, SPEC)
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(UserError, match="cannot be read"):
        load_into(model, garbage, SPEC)
    assert set(file_identity(good)) == {"path", "size", "mtime_ns"}
