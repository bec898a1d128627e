"""The error a user's mistake raises: CLIs print its message as one line and exit 2."""


class UserError(Exception):
    """Bad input from the user (a path, a flag, a file); the message names it and says what was expected."""
