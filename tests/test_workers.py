"""How make test's workers share the tests out (tests/workers.py): the Docker suite in one
worker, a module with a module-scoped fixture in one worker, any other test anywhere."""

from __future__ import annotations

import pytest

from tests.workers import INTEGRATION, unit_of

pytestmark = pytest.mark.unit


def test_the_docker_suite_is_one_unit() -> None:
    units = {
        unit_of("integration/test_push.py::test_a_push_from_a_clone_reaches_both_secondaries"),
        unit_of("integration/test_compose.py::test_docker_compose_accepts_the_file"),
        unit_of("integration/test_faults.py::test_kill_9[after write]"),
    }
    assert units == {INTEGRATION}


def test_a_module_with_a_module_scoped_fixture_is_one_unit() -> None:
    # test_packaging builds the wheel once per module; test_doctor starts its servers once
    for module in ("tests/test_packaging.py", "tests/test_doctor.py"):
        assert unit_of(f"{module}::test_a") == unit_of(f"{module}::test_b[x]") == module


def test_any_other_test_is_a_unit_of_its_own() -> None:
    assert unit_of("tests/test_version.py::test_version_is_the_package_metadata") is None
    assert unit_of("tests/test_bench.py::test_smoke_run_writes_every_comparison[push]") is None
