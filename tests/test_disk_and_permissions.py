"""A full disk, a read-only project, no permission: one line naming the path, exit status 2, and
nothing corrupted (the last checkpoint still loads, no temporary file is left behind).

A full disk is the kernel's own: temporary files (where every write of the tool goes first) are
made links to ``/dev/full``, whose writes fail with ENOSPC. A read-only project is simulated by
refusing, with EROFS, every ``os.open`` that creates or writes and every ``os.mkdir`` under it;
where the tests do not run as root, a real ``chmod`` test runs as well.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
import tempfile
from pathlib import Path

import pytest

from neural_atlases.cli.main import main
from neural_atlases.training.checkpoint import read_checkpoint

REAL_MKSTEMP = tempfile.mkstemp
needs_dev_full = pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full")


def _run(args: list, capsys) -> tuple[int, str]:
    capsys.readouterr()
    status = main([str(a) for a in args])
    return status, capsys.readouterr().err


def _assert_one_line(status: int, err: str, *needles: str) -> str:
    assert status == 2, err
    assert "Traceback" not in err
    lines = err.strip("\n").splitlines()
    errors = [line for line in lines if line.startswith("error:")]
    assert len(errors) == 1 and lines[-1] == errors[0], err
    for needle in needles:
        assert needle.lower() in errors[0].lower(), errors[0]
    return errors[0]


def _temporaries(root: Path) -> list[Path]:
    return [p for p in (root / "results").rglob(".*") if ".tmp" in p.name]


@pytest.fixture()
def disk_full(monkeypatch):
    """Every temporary file becomes a link to /dev/full: its writes fail with ENOSPC."""
    real = tempfile.mkstemp

    def mkstemp(*args, **kwargs):
        fd, name = real(*args, **kwargs)
        os.close(fd)
        os.unlink(name)
        os.symlink("/dev/full", name)
        return os.open("/dev/full", os.O_WRONLY), name

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)


def read_only(monkeypatch, root: Path) -> None:
    """Refuse (EROFS) creating or writing any file or folder under ``root``."""
    real_open, real_mkdir = os.open, os.mkdir
    base = str(root.resolve())
    writing = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND

    def under(path) -> bool:
        return os.path.abspath(os.fspath(path)).startswith(base)

    def fake_open(path, flags, *args, **kwargs):
        if flags & writing and under(path):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), os.fspath(path))
        return real_open(path, flags, *args, **kwargs)

    def fake_mkdir(path, *args, **kwargs):
        if under(path) and not os.path.isdir(path):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), os.fspath(path))
        return real_mkdir(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", fake_open)
    monkeypatch.setattr(os, "mkdir", fake_mkdir)


@pytest.fixture()
def project(tmp_path, tiny_trained) -> Path:
    return Path(shutil.copytree(tiny_trained, tmp_path / "clip"))


@needs_dev_full
def test_disk_full_while_training_afresh(project, tiny_config, capsys, disk_full):
    status, err = _run(["train", "-p", project, "-s", "4", "-c", tiny_config, "--restart"], capsys)
    _assert_one_line(status, err, "No space left on device", str(project / "results"))
    assert not _temporaries(project)
    assert read_checkpoint(project / "results" / "checkpoints" / "checkpoint.pt")["state"]["step"] == 20


@needs_dev_full
def test_disk_full_at_a_checkpoint_keeps_the_last_good_one(
    project, tiny_config, capsys, disk_full, monkeypatch
):
    status, err = _run(["train", "-p", project, "-s", "30", "-c", tiny_config], capsys)
    line = _assert_one_line(status, err, "checkpoint.pt", "No space left on device")
    assert "last good one is kept" in line
    assert not _temporaries(project)
    assert read_checkpoint(project / "results" / "checkpoints" / "checkpoint.pt")["state"]["step"] == 20
    # space again: it resumes from that checkpoint
    assert _run(["evaluate", "-p", project], capsys)[0] == 2  # still full: evaluation cannot write
    monkeypatch.setattr(tempfile, "mkstemp", REAL_MKSTEMP)
    status, err = _run(["train", "-p", project, "-s", "30", "-c", tiny_config], capsys)
    assert status == 0, err
    assert read_checkpoint(project / "results" / "checkpoints" / "checkpoint.pt")["state"]["step"] == 30


@needs_dev_full
@pytest.mark.parametrize("command", ["evaluate", "atlases", "render"])
def test_disk_full_for_outputs(project, capsys, disk_full, tmp_path, command):
    args = [command, "-p", project] + (["-o", tmp_path / "out.mp4"] if command == "render" else [])
    status, err = _run(args, capsys)
    _assert_one_line(status, err, "No space left on device")
    assert not _temporaries(project) and not list(tmp_path.glob(".*tmp*"))


def test_read_only_project(project, tiny_config, capsys, monkeypatch, tmp_path):
    read_only(monkeypatch, project)
    status, err = _run(["train", "-p", project, "-s", "30", "-c", tiny_config], capsys)
    _assert_one_line(status, err, "Read-only file system", str(project / "results"))
    for args in (["evaluate"], ["atlases"], ["atlases", "-o", project / "results" / "mine"]):
        status, err = _run([args[0], "-p", project, *args[1:]], capsys)
        if args[0] == "atlases" and len(args) == 1:
            _assert_one_line(status, err, "atlases", "Read-only file system")
        else:
            _assert_one_line(status, err, "Read-only file system")
    # what is read only is the project: a render elsewhere works
    status, err = _run(["render", "-p", project, "-o", tmp_path / "out"], capsys)
    assert status == 0, err


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root ignores permissions")
def test_project_without_write_permission(project, tiny_config, capsys):
    results = project / "results"
    modes = {p: p.stat().st_mode for p in [results, *results.rglob("*")] if p.is_dir()}
    try:
        for p in modes:
            p.chmod(stat.S_IRUSR | stat.S_IXUSR)
        status, err = _run(["train", "-p", project, "-s", "30", "-c", tiny_config], capsys)
        _assert_one_line(status, err, "Permission denied", str(results))
    finally:
        for p, mode in modes.items():
            p.chmod(mode)
    assert read_checkpoint(results / "checkpoints" / "checkpoint.pt")["state"]["step"] == 20


def test_output_folder_without_permission_is_one_line(project, capsys, monkeypatch, tmp_path):
    out = tmp_path / "locked"
    out.mkdir()

    def refuse(path, *args, **kwargs):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.fspath(path))

    real_mkdir = os.mkdir

    def mkdir(path, *args, **kwargs):
        return refuse(path) if str(out) in str(path) else real_mkdir(path, *args, **kwargs)

    monkeypatch.setattr(os, "mkdir", mkdir)
    status, err = _run(["render", "-p", project, "-o", out / "frames"], capsys)
    _assert_one_line(status, err, "Permission denied", "locked")


@pytest.mark.parametrize(
    "number,words",
    [
        (errno.ENOSPC, "cannot write /data/x.npz: No space left on device"),
        (errno.EACCES, "Permission denied"),
    ],
)
def test_the_command_line_turns_disk_errors_into_one_line(monkeypatch, capsys, tmp_path, number, words):
    from neural_atlases.cli import main as cli

    def failing(args):
        raise OSError(number, os.strerror(number), "/data/x.npz")

    monkeypatch.setitem(cli.COMMANDS, "evaluate", failing)
    status, err = _run(["evaluate", "-p", tmp_path], capsys)
    _assert_one_line(status, err, words, "/data/x.npz")


def test_other_os_errors_are_bugs_and_show(monkeypatch, tmp_path):
    from neural_atlases.cli import main as cli

    def failing(args):
        raise OSError(errno.EIO, "Input/output error", "/data/x.npz")

    monkeypatch.setitem(cli.COMMANDS, "evaluate", failing)
    with pytest.raises(OSError, match="Input/output error"):
        main(["evaluate", "-p", str(tmp_path)])
