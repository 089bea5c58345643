"""bort's version, written in one place: pyproject.toml's ``version``, read back from the installed distribution.

``bort.__version__``, ``bort --version`` and every model card name the same version, and a module low in the tree
(the model card's writer) reads it here rather than from the package's face (``from bort import __version__``),
which sits above everything.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    VERSION = version("bort")
except PackageNotFoundError:  # a source tree put on sys.path by hand, never installed: no metadata to read
    VERSION = "0+unknown"
