"""The one exception type that reaches the user as a one-line message and exit status 2."""

import errno


class UserError(Exception):
    """Bad input from the user: a path, an image, a config key, a flag.

    The command line prints ``error: <message>`` on one line and exits with status 2. Raise it
    with a message that names the offending thing (a path, a key, a value) and, where possible,
    what would be accepted instead. Line breaks in it (a file name or a config key can hold one)
    are shown escaped, so the message stays on one line.
    """

    def __init__(self, message: object = "") -> None:
        super().__init__(one_line(str(message)))


def one_line(text: str) -> str:
    """``text`` with its line breaks and other control characters escaped (``\\n``, ``\\x1b``)."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() or c == " " else repr(c)[1:-1] for c in text)


ENVIRONMENT_ERRNOS = frozenset(
    {
        errno.ENOSPC,  # disk full
        errno.EDQUOT,  # quota exceeded
        errno.EFBIG,  # file too large for the file system
        errno.EACCES,  # permission denied
        errno.EPERM,  # operation not permitted
        errno.EROFS,  # read-only file system
        errno.ENOTDIR,  # a path goes through a file
        errno.EISDIR,  # a file path is a folder
        errno.ENAMETOOLONG,
    }
)
"""``OSError`` numbers that mean the user's files or disk refused, not a bug: the command line
answers them as a ``UserError`` (``user_error_from_os_error``)."""


def user_error_from_os_error(exc: OSError) -> UserError | None:
    """A ``UserError`` naming the path for a full disk, a permission or a read-only file system
    (``ENVIRONMENT_ERRNOS``); None for any other ``OSError`` (a bug: let it show)."""
    if exc.errno not in ENVIRONMENT_ERRNOS:
        return None
    reason = exc.strerror or errno.errorcode.get(exc.errno, str(exc.errno))
    paths = [str(p) for p in (exc.filename, exc.filename2) if p is not None]
    where = " -> ".join(paths) if paths else "a file"
    full = exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS)
    return UserError(f"{'cannot write' if full else 'cannot use'} {where}: {reason}")
