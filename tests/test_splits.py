"""Grouped train/dev/test splits on a real 20k sample: all PolyMetriX Tg polymers (measured) + SMiPoly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rdkit import Chem, DataStructs, RDLogger
from rdkit.Chem import rdFingerprintGenerator

from kb.errors import PolyBenchError
from kb.splits import (
    MAX_MEASURED_PER_GROUP,
    SPLITS,
    assign_splits,
    cluster_fps,
    default_n_clusters,
    refine_clusters,
    split_fractions,
)

RDLogger.DisableLog("rdApp.*")
DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SAMPLE_SIZE = 20_000
# two PolyMetriX polycarbonates that differ by one ring methyl (Tanimoto 0.77)
METHYL_PAIR = ("*C1=C(C)C=C(C=C1)C(C)(C)C1=CC=C(C(Cl)=C1)OC(=O)O*",
               "*C1=CC=C(C=C1)C(C)(C)C1=CC=C(C(Cl)=C1)OC(=O)O*")
_GEN = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)

pytestmark = pytest.mark.skipif(not DATA.exists(), reason=f"source mirror {DATA} not found")


def _packed_fps(smiles: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Packed 2048-bit Morgan fingerprints of the parseable SMILES, with a parsed-ok mask."""
    fps = np.zeros((len(smiles), 256), dtype=np.uint8)
    ok = np.zeros(len(smiles), dtype=bool)
    for i, s in enumerate(smiles):
        mol = Chem.MolFromSmiles(s)
        if mol is not None:
            fps[i], ok[i] = np.packbits(_GEN.GetFingerprintAsNumPy(mol)), True
    return fps, ok


@pytest.fixture(scope="module")
def sample() -> dict[str, np.ndarray]:
    """All PolyMetriX Tg polymers (measured) plus seeded random SMiPoly polymers, 20k in all, unique SMILES."""
    tg = pd.read_csv(DATA / "polymetrix_tg" / "Polymer_Tg.csv")["PSMILES"].drop_duplicates().tolist()
    smipoly = pd.read_csv(DATA / "smipoly" / "SMiPoly_001_generatedPolymer.csv.gz", usecols=["polym"])["polym"]
    smipoly = smipoly[~smipoly.isin(tg)].drop_duplicates()
    picked = smipoly.sample(SAMPLE_SIZE - len(tg), random_state=0).tolist()
    smiles = np.array(tg + picked)
    fps, ok = _packed_fps(smiles.tolist())
    measured = np.arange(len(smiles)) < len(tg)
    ids = np.random.default_rng(1).permutation(len(smiles))[ok] * 5 + 11  # ids unrelated to the file order
    return {"ids": ids, "fps": fps[ok], "measured": measured[ok], "smiles": smiles[ok]}


@pytest.fixture(scope="module")
def splits(sample) -> tuple[np.ndarray, np.ndarray]:
    return assign_splits(sample["ids"], sample["fps"], sample["measured"], seed=0)


def test_every_polymer_gets_exactly_one_known_split(sample, splits):
    labels, clusters = splits
    assert len(labels) == len(clusters) == len(sample["ids"])
    assert set(np.unique(labels)) == set(SPLITS)
    assert clusters.min() == 0 and clusters.max() == len(np.unique(clusters)) - 1
    # a cluster never straddles two splits
    per_cluster = pd.DataFrame({"c": clusters, "s": labels}).groupby("c")["s"].nunique()
    assert (per_cluster == 1).all()


def test_fractions_near_80_10_10_overall_and_measured(sample, splits):
    fractions = split_fractions(splits[0], sample["measured"])
    assert sample["measured"].sum() > 7000
    for scope in ("all", "measured"):
        for split, target in zip(SPLITS, (0.8, 0.1, 0.1), strict=True):
            assert fractions[scope][split] == pytest.approx(target, abs=0.02), (scope, split, fractions)


def test_deterministic_across_calls(sample, splits):
    labels, clusters = assign_splits(sample["ids"], sample["fps"], sample["measured"], seed=0)
    assert (labels == splits[0]).all()
    assert (clusters == splits[1]).all()


def test_input_order_does_not_change_any_split(sample, splits):
    perm = np.random.default_rng(7).permutation(len(sample["ids"]))
    labels, clusters = assign_splits(sample["ids"][perm], sample["fps"][perm], sample["measured"][perm], seed=0)
    assert (labels == splits[0][perm]).all()
    assert (clusters == splits[1][perm]).all()


def test_another_seed_gives_another_split(sample, splits):
    labels, _ = assign_splits(sample["ids"], sample["fps"], sample["measured"], seed=1)
    assert (labels != splits[0]).mean() > 0.05


def test_methyl_analogues_share_a_cluster_and_split(sample, splits):
    where = {s: i for i, s in enumerate(sample["smiles"])}
    a, b = METHYL_PAIR
    fa, fb = (_GEN.GetFingerprint(Chem.MolFromSmiles(s)) for s in (a, b))
    assert 0.7 < DataStructs.TanimotoSimilarity(fa, fb) < 1.0  # near-duplicates, not identical bits
    labels, clusters = splits
    assert clusters[where[a]] == clusters[where[b]]
    assert labels[where[a]] == labels[where[b]]


def test_close_analogues_mostly_share_a_split(sample, splits):
    """Pairs with Tanimoto >= 0.8 share a split far more often than in a random 80/10/10 split (~0.65).

    Measured: 0.921 of 2,185 such pairs here (0.986 before catch-all clusters were re-clustered)."""
    fps = sample["fps"]
    rng = np.random.default_rng(3)
    queries = rng.choice(len(fps), 1500, replace=False)
    words = fps.view(np.uint64)
    counts = np.bitwise_count(words).sum(axis=1)
    same = []
    for q in queries:
        common = np.bitwise_count(words & words[q]).sum(axis=1)
        sims = common / (counts + counts[q] - common)
        sims[q] = -1.0
        near = np.flatnonzero(sims >= 0.8)
        same.extend(splits[0][near] == splits[0][q])
    assert len(same) > 1000
    assert np.mean(same) > 0.85


def test_no_group_keeps_a_catch_all_of_measured_polymers(sample, splits):
    """Plain k-means puts most measured (PolyMetriX) polymers into a few clusters; refinement breaks those up."""
    fps, measured = sample["fps"], sample["measured"]
    plain_clusters = cluster_fps(fps, default_n_clusters(len(fps)), seed=0)
    plain = np.bincount(plain_clusters, weights=measured)
    refined = np.bincount(splits[1], weights=measured)  # splits are aligned with the sample's rows
    assert plain.max() > 4 * MAX_MEASURED_PER_GROUP  # the problem is real on this sample (283 measured)
    assert refined.max() < plain.max() / 2           # 106 after refinement
    assert len(np.unique(splits[1])) > len(np.unique(plain_clusters))


def test_refine_clusters_only_touches_clusters_over_the_cap():
    rng = np.random.default_rng(0)
    fps = rng.integers(0, 256, size=(300, 256), dtype=np.uint8)
    clusters = np.repeat([0, 1, 2], 100)
    measured = np.zeros(300, dtype=bool)
    measured[:60] = True       # cluster 0: 60 measured, over a cap of 25 -> 3 sub-clusters
    measured[100:110] = True   # cluster 1: 10 measured, kept whole
    out = refine_clusters(clusters, fps, measured, max_measured=25, seed=0)
    assert (out[100:] == clusters[100:]).all()
    assert set(np.unique(out[:100])) <= {3, 4, 5} and len(np.unique(out[:100])) >= 2
    with pytest.raises(PolyBenchError, match="max_measured_per_group"):
        assign_splits(np.arange(300), fps, measured, max_measured_per_group=0)


def test_small_inputs_are_singleton_groups_and_still_split():
    fps = np.random.default_rng(0).integers(0, 256, size=(50, 256), dtype=np.uint8)
    labels, clusters = assign_splits(np.arange(50), fps, np.zeros(50, dtype=bool))
    assert default_n_clusters(50) == 50
    assert len(np.unique(clusters)) == 50
    assert sorted(np.unique(labels)) == sorted(SPLITS)
    assert (labels == "train").sum() == 40


def test_bad_inputs_raise_typed_errors(sample):
    ids, fps, measured = sample["ids"][:200], sample["fps"][:200], sample["measured"][:200]
    with pytest.raises(PolyBenchError, match="fractions"):
        assign_splits(ids, fps, measured, fractions=(0.8, 0.1, 0.2))
    with pytest.raises(PolyBenchError, match="ids"):
        assign_splits(ids[:-1], fps, measured)
    with pytest.raises(PolyBenchError, match="unique"):
        assign_splits(np.zeros(200, dtype=np.int64), fps, measured)
    with pytest.raises(PolyBenchError, match="uint8"):
        assign_splits(ids, fps[:, :128], measured)
