"""The one exception type for a user's mistake.

Anything raised as :class:`BortError` reaches the user as a single line and exit code 2 (see
``bort.cli.main``); everything else is a bug and keeps its traceback.
"""


class BortError(Exception):
    """A user's mistake: bad input, a missing file, an invalid architecture."""
