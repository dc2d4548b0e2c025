"""Shared fixtures: a small real KB built once per test session from the real mirror."""

from __future__ import annotations

from pathlib import Path

import pytest

from kb.build import BuildReport, build_kb
from kb.config import BuildConfig
from tools.kb_view import KBView

ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = (ROOT.parent / "shared" / "data").resolve()
SMALL_KB_ROWS = 150  # first rows of every source file: every source, every reader, ~4k polymers


def pytest_collection_modifyitems(config, items):
    if not DATA_DIR.exists():
        skip = pytest.mark.skip(reason=f"source mirror {DATA_DIR} not found")
        for item in items:
            if "small_kb" in getattr(item, "fixturenames", ()):
                item.add_marker(skip)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA_DIR


@pytest.fixture(scope="session")
def small_kb_config(tmp_path_factory) -> BuildConfig:
    return BuildConfig(data_dir=DATA_DIR, kb_dir=tmp_path_factory.mktemp("kb"), max_rows=SMALL_KB_ROWS, n_jobs=2)


@pytest.fixture(scope="session")
def small_kb(small_kb_config) -> BuildReport:
    """Build the small KB once; tests read it through report.db_path / config.paths."""
    return build_kb(small_kb_config)


@pytest.fixture(scope="module")
def view(small_kb, small_kb_config) -> KBView:
    """The small KB with nothing hidden (golds of every split can be confirmed); one per test module."""
    return KBView(small_kb_config.kb_dir)
