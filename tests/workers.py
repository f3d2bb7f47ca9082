"""How `make test`'s workers (pytest-xdist, `--dist loadgroup`) share the tests out.

Registered by tests/conftest.py when pytest-xdist is there. The units of work, from node
ids alone:

- every test of integration/ is one unit, in one worker: the Docker topology is one set of
  containers per session on a subnet of the machine (integration/topology.py's suite_lock);
  a second worker would start its own and wait for the first one's lock;
- a module with a module-scoped fixture (named servers, a built wheel) is one unit: the
  fixture is made once, not once per worker;
- any other test is a unit of its own, as with `--dist load`.

xdist's own grouping reads `xdist_group` marks from node ids that pytest 9.2 no longer lets
it rewrite (pytest-xdist issue 1386); the suite does not depend on it.
"""

from __future__ import annotations

import functools
from pathlib import Path

import pytest
from xdist.remote import Producer
from xdist.scheduler import LoadGroupScheduling

ROOT = Path(__file__).resolve().parent.parent
INTEGRATION = "integration/"


@functools.cache
def has_module_fixture(path: str) -> bool:
    file = ROOT / path
    return file.suffix == ".py" and 'scope="module"' in file.read_text(encoding="utf-8")


def unit_of(nodeid: str) -> str | None:
    """The unit a test belongs to, or None when it is a unit of its own."""
    path = nodeid.split("::", 1)[0]
    if path.startswith(INTEGRATION):
        return INTEGRATION
    if has_module_fixture(path):
        return path
    return None


class Together(LoadGroupScheduling):
    def _split_scope(self, nodeid: str) -> str:
        return unit_of(nodeid) or super()._split_scope(nodeid)


class Units:
    """The plugin: `--dist loadgroup` with the units above."""

    @pytest.hookimpl(tryfirst=True)
    def pytest_xdist_make_scheduler(
        self, config: pytest.Config, log: Producer
    ) -> LoadGroupScheduling | None:
        if config.getvalue("dist") != "loadgroup":
            return None
        return Together(config, log)
