"""The one exception type that reaches the user as a one-line message and exit status 2."""


class UserError(Exception):
    """Bad input from the user: a path, an image, a config key, a flag.

    The command line prints ``error: <message>`` on one line and exits with status 2. Raise it
    with a message that names the offending thing (a path, a key, a value) and, where possible,
    what would be accepted instead.
    """
