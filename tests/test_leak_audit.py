"""The leak audit (bench/leak_audit.py): no tool route shows a hidden split's measured value.

Default suite: every measured test (and dev) polymer of the small KB. Slow: every measured test polymer of
the full KB (a KB built from this code at .polybench/kb; skipped when there is none).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.leak_audit import leak_audit
from kb.config import KBPaths

FULL_KB = Path(__file__).resolve().parents[1] / ".polybench" / "kb"


@pytest.mark.parametrize("split", ["test", "dev"])
def test_no_route_shows_a_hidden_value_on_the_small_kb(small_kb, small_kb_config, split):
    report = leak_audit(small_kb_config.kb_dir, split)
    assert report.polymers >= 20 and sum(report.calls.values()) > 10 * report.polymers
    assert report.leaks == []


def test_the_audit_finds_values_a_view_shows(small_kb, small_kb_config):
    """Audited through the train view (which hides nothing), the same routes must report leaks."""
    report = leak_audit(small_kb_config.kb_dir, "test", limit=5, view_split="train")
    assert report.polymers == 5
    assert any("get_property_values(id)" in leak for leak in report.leaks)
    assert any("via sql(measurements by id)" in leak for leak in report.leaks)


@pytest.mark.slow
@pytest.mark.skipif(not KBPaths(FULL_KB).db.exists(), reason="no full KB built at .polybench/kb")
def test_no_route_shows_a_hidden_value_on_the_full_kb():
    report = leak_audit(FULL_KB, "test")
    assert report.polymers > 1000
    assert report.leaks == []
