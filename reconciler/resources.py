"""Where the project's own files are: repo-template/ and deploy/hooks/.

In a source checkout (or an editable install) they sit beside the package;
a wheel installs them under `<prefix>/share/dns-reconciler/` (pyproject's
data-files). Called by devtools/init.py and serve/hooks.py.
"""

from __future__ import annotations

import sys
from pathlib import Path

from reconciler.errors import SourceError

SHARE = ("share", "dns-reconciler")


def shared(relative: str) -> Path:
    """The folder `relative` (e.g. "repo-template") of this installation."""
    places = [
        Path(__file__).resolve().parent.parent / relative,
        Path(sys.prefix, *SHARE, relative),
        Path(sys.base_prefix, *SHARE, relative),
    ]
    for place in places:
        if place.is_dir():
            return place
    raise SourceError(f"{relative} not found (looked in {', '.join(map(str, places))})")
