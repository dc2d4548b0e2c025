"""Surrogate models and the estimate_property tool on the small real KB: training, versions, predictions."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import typer
from pydantic import ValidationError
from threadpoolctl import threadpool_limits

from kb.assemble import polymer_id_of
from kb.repeat_unit import to_repeat_unit
from kb.store import connect_read_only
from tools.errors import ToolError
from tools.estimate import EstimateArgs, EstimateContext, estimate_property
from tools.kb_view import KBView
from tools.surrogate_model import FlatForest
from tools.surrogate_store import INDEX_FILE, StaleModelError, kb_version_of, load_cards, load_model
from tools.surrogate_train import SurrogateConfig, domain_thresholds, ensure_models

CONFIG = SurrogateConfig(min_train=20, properties=["tg", "density", "ffv"], tune=False, max_iter=150)
NEW_POLYMER = "*CC(*)c1ccc(C(F)(F)F)c(Cl)c1F"  # not in the small KB (checked below)


@pytest.fixture(scope="module")
def trained(small_kb, small_kb_config):
    """Models of the small KB in the default folder (<kb_dir>/models/surrogates/<kb_version>); reused when
    another module of the session trained them with the same config (tests/reasoner_fixtures.MODELS)."""
    folder = ensure_models(small_kb_config.kb_dir, CONFIG)
    return folder, list(load_cards(folder, kb_version_of(small_kb_config.paths.db)).values())


@pytest.fixture(scope="module")
def ctx(trained, small_kb_config):
    context = EstimateContext(KBView.for_split(small_kb_config.kb_dir, "test"))
    yield context
    context.close()


def _tg_polymer(db_path: Path, split: str) -> tuple[int, str, float]:
    con = connect_read_only(db_path)
    try:
        return con.execute("""
            SELECT p.polymer_id, p.key, s.value FROM property_summary s JOIN polymers p USING (polymer_id)
            WHERE s.property = 'tg' AND s.kind = 'experimental' AND p.split = ?
            ORDER BY p.polymer_id LIMIT 1""",
                           [split]).fetchone()
    finally:
        con.close()


def test_training_writes_versioned_folder(trained, small_kb):
    folder, cards = trained
    version = kb_version_of(Path(small_kb.db_path))
    assert folder.name == version and folder.parent.name == "surrogates"
    index = json.loads((folder / INDEX_FILE).read_text())
    assert index["kb_version"] == version
    assert {c.name for c in cards} == set(index["models"])
    assert "tg__experimental" in index["models"]
    for card in cards:
        assert card.kb_version == version
        assert (folder / f"{card.name}.joblib").exists() and (folder / f"{card.name}.json").exists()
        assert card.n_train >= CONFIG.min_train and len(card.train_ids) == card.n_train
        assert card.metrics.test_mae is None or card.metrics.test_mae >= 0
        assert 0 <= card.domain.out_of_domain <= card.domain.in_domain <= 1


def test_training_ids_are_train_split_only(trained, small_kb):
    _, cards = trained
    con = connect_read_only(Path(small_kb.db_path))
    try:
        splits = dict(con.execute("SELECT polymer_id, split FROM polymers").fetchall())
    finally:
        con.close()
    for card in cards:
        seen = {splits.get(pid) for pid in card.train_ids}
        assert seen == {"train"}, f"{card.name} trained on {seen}"


def test_known_polymer_estimate(ctx, small_kb):
    pid, key, measured = _tg_polymer(Path(small_kb.db_path), "train")
    est = estimate_property(EstimateArgs(polymer=key, property="tg"), ctx)
    assert est.polymer_id == pid and est.kind == "experimental" and est.unit == "K"
    assert math.isfinite(est.value) and est.lower <= est.value <= est.upper
    # a training polymer of the model: never its own neighbour, and its estimate is the out-of-fold one
    assert pid not in {n.polymer_id for n in est.neighbours} and est.out_of_fold
    assert est.nearest_similarity == est.neighbours[0].similarity
    model = ctx.model("tg__experimental")
    assert model.out_of_fold(pid) is not None and est.value == pytest.approx(model.out_of_fold(pid), abs=0.51)
    assert est.measured_value == pytest.approx(measured, rel=1e-3)  # train values are visible to a test agent
    assert est.provenance.kb_version == ctx.kb_version and pid in est.provenance.polymer_ids
    assert est.model.n_train > 0 and est.model.name == "tg__experimental"


def test_new_polymer_gets_training_neighbours(ctx, small_kb):
    key = to_repeat_unit(NEW_POLYMER).key
    con = connect_read_only(Path(small_kb.db_path))
    try:
        assert con.execute("SELECT count(*) FROM polymers WHERE key = ?", [key]).fetchone()[0] == 0
        train_ids = {r[0] for r in con.execute(
            "SELECT polymer_id FROM polymers WHERE split = 'train'").fetchall()}
    finally:
        con.close()
    est = estimate_property(EstimateArgs(polymer=NEW_POLYMER, property="tg", n_neighbours=4), ctx)
    assert est.polymer_id is None and est.polymer == key
    assert math.isfinite(est.value) and est.lower <= est.value <= est.upper
    assert len(est.neighbours) == 4
    sims = [n.similarity for n in est.neighbours]
    assert sims == sorted(sims, reverse=True) and 0 < sims[0] < 1 and sims[0] == est.nearest_similarity
    assert all(n.polymer_id in train_ids and n.psmiles for n in est.neighbours)
    assert all(n.measured_value is not None and n.sources for n in est.neighbours)
    assert est.domain in {"in-domain", "borderline", "out-of-domain"}


def test_hidden_split_values_are_not_shown(trained, small_kb_config):
    blind = EstimateContext(KBView(small_kb_config.kb_dir, frozenset({"train", "dev", "test"})))
    try:
        est = estimate_property(EstimateArgs(polymer=NEW_POLYMER, property="tg"), blind)
    finally:
        blind.close()
    assert est.neighbours and all(n.measured_value is None and not n.sources for n in est.neighbours)
    assert est.provenance.source_ids == []


def test_units_and_kinds(ctx):
    kelvin = estimate_property(EstimateArgs(polymer="*CC(*)C", property="tg"), ctx)
    celsius = estimate_property(EstimateArgs(polymer="*CC(*)C", property="Tg", unit="degC"), ctx)
    assert celsius.unit == "degC" and celsius.value == pytest.approx(kelvin.value - 273.15, abs=0.05)
    assert celsius.lower == pytest.approx(kelvin.lower - 273.15, abs=0.05)
    md = estimate_property(EstimateArgs(polymer="*CC(*)C", property="tg", kind="md_simulated"), ctx)
    assert md.kind == "md_simulated" and md.model.name == "tg__md_simulated"
    with pytest.raises(ToolError, match="unknown unit 'kgg'.*tg is in K"):
        estimate_property(EstimateArgs(polymer="*CC(*)C", property="tg", unit="kgg"), ctx)
    with pytest.raises(ToolError, match="no dft model for 'tg'; kinds with a model: experimental, md_sim"):
        estimate_property(EstimateArgs(polymer="*CC(*)C", property="tg", kind="dft"), ctx)


def test_unknown_property_lists_available(ctx):
    with pytest.raises(ToolError) as err:
        estimate_property(EstimateArgs(polymer="*CC*", property="glass_transition"), ctx)
    message = str(err.value)
    assert "unknown property 'glass_transition'" in message
    assert "Properties with a surrogate model: density, ffv, tg" in message
    with pytest.raises(ToolError, match="no surrogate model for 'perm_co2'.*density, ffv, tg"):
        estimate_property(EstimateArgs(polymer="*CC*", property="perm_co2"), ctx)


@pytest.mark.parametrize("text", ["C1CC", "*CC", "notapolymer", ""])
def test_invalid_polymer_is_a_tool_error(ctx, text):
    with pytest.raises(ToolError, match="invalid polymer.*Write the repeat unit as SMILES"):
        estimate_property(EstimateArgs(polymer=text, property="tg"), ctx)


def test_text_that_is_not_smiles_is_refused_by_the_arguments():
    with pytest.raises(ValidationError, match="SMILES contain no spaces"):
        EstimateArgs(polymer="not a polymer", property="tg")


def test_stale_models_are_refused_and_retrained(trained, small_kb_config, tmp_path):
    folder, _ = trained
    version = kb_version_of(small_kb_config.paths.db)
    with pytest.raises(StaleModelError, match="trained on KB"):
        load_cards(folder, "0123456789abcdef")
    stale = tmp_path / "stale"
    shutil.copytree(folder, stale)
    index = json.loads((stale / INDEX_FILE).read_text())
    (stale / INDEX_FILE).write_text(json.dumps({**index, "kb_version": "0123456789abcdef"}))
    with pytest.raises(ToolError, match="unavailable.*trained on KB 0123456789abcdef"):
        estimate_property(EstimateArgs(polymer="*CC*", property="tg"),
                          EstimateContext(KBView(small_kb_config.kb_dir), models_dir=stale))
    small = SurrogateConfig(min_train=20, properties=["density"], tune=False, max_iter=50)
    assert ensure_models(small_kb_config.kb_dir, small, models_dir=stale) == stale
    retrained = load_cards(stale, version)
    assert "density__md_simulated" in retrained
    assert all(c.kb_version == version and c.property == "density" for c in retrained.values())
    before = (stale / INDEX_FILE).stat().st_mtime_ns
    assert ensure_models(small_kb_config.kb_dir, small, models_dir=stale) == stale  # up to date: kept
    assert (stale / INDEX_FILE).stat().st_mtime_ns == before


def test_flat_forest_matches_sklearn(trained, ctx):
    folder, _ = trained
    model = load_model(folder, "tg__experimental", ctx.kb_version)
    rows = np.vstack([model.inputs_of(to_repeat_unit(s).key)[0]
                      for s in ["*CC(*)C", "*OCC*", "*CC(*)c1ccccc1", "*c1ccc(Oc2ccc(*)cc2)cc1",
                                "*CC(*)C#N"]])
    flat = FlatForest(model.point)
    sims = np.array([0.9, 0.5, 0.1, 0.4, 0.7])   # spans every domain verdict, so every margin is used
    with threadpool_limits(limits=1, user_api="openmp"):
        value, lo, hi = model.predict(rows, sims)
        assert np.allclose([flat.predict_row(r) for r in rows], model.point.predict(rows), atol=1e-9)
    one = np.array([model.predict_one(r, s) for r, s in zip(rows, sims)])
    assert np.allclose(one, np.column_stack([value, lo, hi]), atol=1e-9)


def test_polymer_id_matches_kb_hash(ctx, small_kb):
    pid, key, _ = _tg_polymer(Path(small_kb.db_path), "dev")
    est = estimate_property(EstimateArgs(polymer=key, property="tg", n_neighbours=0), ctx)
    assert est.polymer_id == pid == polymer_id_of(key)
    assert est.neighbours == [] and est.measured_value is None   # dev values are hidden from a test agent


def test_domain_thresholds_follow_dev_errors():
    rng = np.random.default_rng(0)
    sims = rng.uniform(0.1, 1.0, 400)
    errors = np.where(sims >= 0.6, 1.0, np.where(sims >= 0.3, 2.0, 6.0)) * rng.uniform(0.5, 1.5, 400)
    domain = domain_thresholds(sims, errors)   # mean error ~2.1: in-domain from ~0.3, out below ~0.3
    assert 0.25 <= domain.out_of_domain <= domain.in_domain <= 0.35
    few = domain_thresholds(sims[:5], errors[:5])
    assert (few.in_domain, few.out_of_domain) == (0.5, 0.3) and few.how.startswith("default")


def test_cli_trains_and_then_is_a_no_op(trained, small_kb_config, tmp_path):
    from typer.testing import CliRunner

    from tools.train_surrogates import main

    app = typer.Typer()
    app.command()(main)
    args = ["--kb-dir", str(small_kb_config.kb_dir), "--models-dir", str(tmp_path / "m"),
            "--property", "density", "--min-train", "50", "--no-tune"]
    first = CliRunner().invoke(app, args)
    assert first.exit_code == 0, first.output
    assert "density__md_simulated" in first.output and (tmp_path / "m" / INDEX_FILE).exists()
    before = (tmp_path / "m" / INDEX_FILE).stat().st_mtime_ns
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 0 and (tmp_path / "m" / INDEX_FILE).stat().st_mtime_ns == before
    bad = CliRunner().invoke(app, ["--kb-dir", str(small_kb_config.kb_dir), "--coverage", "1.5"])
    assert bad.exit_code == 1 and "config error: coverage" in bad.output
