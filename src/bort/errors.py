"""The one exception type for a user's mistake.

Anything raised as :class:`BortError` reaches the user as a single line and exit code 2 (see
``bort.cli.main``); everything else is a bug and keeps its traceback.
"""


class BortError(Exception):
    """A user's mistake: bad input, a missing file, an invalid architecture."""


def first_line(exc: BaseException) -> str:
    """The first line of a library's exception message (its type's name when the message is empty): what a
    one-line error quotes of it."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
