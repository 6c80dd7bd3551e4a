"""Tests of neural_atlases.errors: which OSErrors reach the user as one line."""

from __future__ import annotations

import errno
import os

import pytest

from neural_atlases.errors import UserError, user_error_from_os_error


@pytest.mark.parametrize(
    "number,text",
    [
        (errno.ENOSPC, "cannot write /p/x.png: No space left on device"),
        (errno.EROFS, "cannot write /p/x.png: Read-only file system"),
        (errno.EACCES, "cannot use /p/x.png: Permission denied"),
        (errno.EPERM, "cannot use /p/x.png: Operation not permitted"),
    ],
)
def test_disk_and_permission_errors_name_the_path(number, text):
    error = user_error_from_os_error(OSError(number, os.strerror(number), "/p/x.png"))
    assert isinstance(error, UserError) and str(error) == text


def test_two_paths_and_no_path():
    error = user_error_from_os_error(OSError(errno.EACCES, "Permission denied", "/a", None, "/b"))
    assert str(error) == "cannot use /a -> /b: Permission denied"
    assert str(user_error_from_os_error(OSError(errno.ENOSPC, "No space"))) == "cannot write a file: No space"


def test_other_os_errors_are_not_the_users():
    assert user_error_from_os_error(OSError(errno.EIO, "Input/output error", "/p")) is None
    assert user_error_from_os_error(OSError("no errno")) is None


def test_user_error_messages_stay_on_one_line():
    from neural_atlases.errors import UserError

    assert str(UserError("unknown key 'a\nb'\r")) == "unknown key 'a\\nb'\\r"
    assert str(UserError("é ✓ plain words")) == "é ✓ plain words"
