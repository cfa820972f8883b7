"""Shared fixtures and the fast suite's promise.

Real datasets come from ../shared/datasets; tests using them skip without it.

``pytest -m "not slow"`` must not import TensorFlow, Keras or JAX: a module whose tests are all
slow says so with a top-level ``pytestmark = pytest.mark.slow`` line and is then not even
imported when slow tests are deselected, and the session fails if a framework was imported
anyway (e.g. a fast test that builds a model by accident), in one process or in each
pytest-xdist worker.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATASETS = ROOT.parent / "shared" / "datasets"
FRAMEWORKS = ("tensorflow", "keras", "jax")
_ALL_SLOW = re.compile(r"^pytestmark = pytest\.mark\.slow\b", re.M)


def _slow_deselected(config) -> bool:
    from _pytest.mark.expression import Expression

    markexpr = config.getoption("markexpr")
    if not markexpr:
        return False
    try:
        return not Expression.compile(markexpr).evaluate(lambda name: name == "slow")
    except Exception:  # noqa: BLE001 - an expression pytest itself will report
        return False


def pytest_ignore_collect(collection_path, config):
    """Do not import a module of slow tests when slow tests are deselected anyway."""
    if collection_path.suffix == ".py" and collection_path.name.startswith("test_") \
            and _slow_deselected(config):
        return bool(_ALL_SLOW.search(collection_path.read_text(encoding="utf-8")))
    return None


@pytest.fixture(scope="session", autouse=True)
def _fast_suite_imports_no_framework(request):
    """After the last test of a fast session (or of each pytest-xdist worker's share of it), fail
    if a framework was imported: a fixture's teardown error reaches the exit status under xdist,
    where a worker's own exit status does not."""
    yield
    if _slow_deselected(request.config):
        loaded = [m for m in FRAMEWORKS if m in sys.modules]
        if loaded:
            pytest.fail(f"the fast suite imported {', '.join(loaded)}: a test that needs a "
                        "framework must be marked slow", pytrace=False)


@pytest.fixture(scope="session")
def shared_datasets() -> Path:
    """The folder of real public dataset files, or skip the test when it is absent."""
    if not SHARED_DATASETS.is_dir():
        pytest.skip(f"{SHARED_DATASETS} is absent")
    return SHARED_DATASETS
