"""Fingerprint index on real polymers: self-match, allow-lists, save/load, recall against exact search."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rdkit import Chem, DataStructs, RDLogger
from rdkit.Chem import rdFingerprintGenerator

from kb import fp_index
from kb.errors import PolyBenchError
from kb.fp_index import FingerprintIndex

RDLogger.DisableLog("rdApp.*")
DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SAMPLE_SIZE = 20_000
_GEN = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)

pytestmark = pytest.mark.skipif(not DATA.exists(), reason=f"source mirror {DATA} not found")


@pytest.fixture(scope="module")
def sample() -> dict[str, np.ndarray]:
    """20k real polymers (PolyMetriX Tg + seeded SMiPoly sample), packed fingerprints, shuffled sparse ids."""
    tg = pd.read_csv(DATA / "polymetrix_tg" / "Polymer_Tg.csv")["PSMILES"].drop_duplicates().tolist()
    smipoly = pd.read_csv(DATA / "smipoly" / "SMiPoly_001_generatedPolymer.csv.gz", usecols=["polym"])["polym"]
    picked = smipoly[~smipoly.isin(tg)].drop_duplicates().sample(SAMPLE_SIZE - len(tg), random_state=1)
    mols = [Chem.MolFromSmiles(s) for s in tg + picked.tolist()]
    mols = [m for m in mols if m is not None]
    fps = np.stack([np.packbits(_GEN.GetFingerprintAsNumPy(m)) for m in mols])
    ids = np.random.default_rng(2).permutation(len(mols)).astype(np.int64) * 3 + 100
    return {"ids": ids, "fps": fps, "mols": np.array(mols, dtype=object)}


@pytest.fixture(scope="module")
def index(sample) -> FingerprintIndex:
    return FingerprintIndex.build(sample["ids"], sample["fps"])


def test_large_set_uses_cells_small_set_is_exact(sample, index):
    assert index.nlist > 1 and index.nprobe < index.nlist
    small = FingerprintIndex.build(sample["ids"][:3000], sample["fps"][:3000])
    assert small.nlist == 1


def test_nearest_neighbour_is_itself(sample, index):
    fps, ids = sample["fps"], sample["ids"]
    _, same_bits, n_same = np.unique(fps, axis=0, return_inverse=True, return_counts=True)
    n_same = n_same[same_bits]  # how many polymers share each row's exact bits (homologues often do)
    assert (n_same == 1).mean() > 0.8
    rows = np.random.default_rng(0).choice(len(ids), 2000, replace=False)
    for row in rows:
        hits = index.search(fps[row], k=int(n_same[row]) + 1)
        assert hits[0][1] == 1.0
        assert ids[row] in {pid for pid, sim in hits if sim == 1.0}
        assert sum(sim == 1.0 for _, sim in hits) == n_same[row]
        if n_same[row] == 1:
            assert hits[0][0] == ids[row] and hits[1][1] < 1.0


def test_similarities_equal_rdkit_tanimoto(sample, index):
    mols, ids = sample["mols"], sample["ids"]
    row_of = {int(pid): i for i, pid in enumerate(ids)}
    query = _GEN.GetFingerprint(mols[42])
    for pid, sim in index.search(sample["fps"][42], k=10):
        assert sim == pytest.approx(DataStructs.TanimotoSimilarity(query, _GEN.GetFingerprint(mols[row_of[pid]])))


def test_query_as_bytes_array_or_bits_gives_same_hits(sample, index):
    fp = sample["fps"][7]
    as_array = index.search(fp, k=10)
    assert index.search(fp.tobytes(), k=10) == as_array
    assert index.search(np.unpackbits(fp).astype(bool), k=10) == as_array
    assert index.search(_GEN.GetFingerprintAsNumPy(sample["mols"][7]), k=10) == as_array  # 2048 uint8 bits
    assert [s for _, s in as_array] == sorted((s for _, s in as_array), reverse=True)


def test_recall_at_10_against_exact_search(sample, index):
    rows = np.random.default_rng(5).choice(len(sample["ids"]), 200, replace=False)
    recalls = []
    for row in rows:
        approx = {pid for pid, _ in index.search(sample["fps"][row], k=10)}
        exact = {pid for pid, _ in index.exact_search(sample["fps"][row], k=10)}
        recalls.append(len(approx & exact) / len(exact))
    assert np.mean(recalls) >= 0.9


@pytest.mark.parametrize("brute", [True, False])  # exact scan of the allow-list, or masked cell probes
def test_allowed_ids_restricts_results(sample, index, monkeypatch, brute):
    if not brute:
        monkeypatch.setattr(fp_index, "BRUTE_ALLOWED_BELOW", 100)
        monkeypatch.setattr(fp_index, "BRUTE_RATIO", 0.0)
    ids, fps = sample["ids"], sample["fps"]
    allowed = ids[np.random.default_rng(3).random(len(ids)) < 0.1]
    allowed_set = set(allowed.tolist())
    for row in range(0, 2000, 40):
        hits = index.search(fps[row], k=10, allowed_ids=allowed)
        assert len(hits) == 10
        assert {pid for pid, _ in hits} <= allowed_set
        exact = index.exact_search(fps[row], k=10, allowed_ids=allowed)
        assert {pid for pid, _ in exact} <= allowed_set
        assert hits[0][1] == exact[0][1]


def test_allowed_ids_outside_the_index_are_ignored(sample, index):
    hits = index.search(sample["fps"][0], k=10, allowed_ids=np.array([-5, 1, 2, 10**9]))
    assert hits == []
    one = int(sample["ids"][3])
    assert [pid for pid, _ in index.search(sample["fps"][0], k=10, allowed_ids=np.array([one, 10**9]))] == [one]


def test_save_load_round_trip(sample, index, tmp_path):
    index.save(tmp_path / "fp")
    loaded = FingerprintIndex.load(tmp_path / "fp")
    assert loaded.nlist == index.nlist and loaded.nprobe == index.nprobe
    assert (loaded.ids == index.ids).all() and (loaded.fps == index.fps).all()
    for row in range(0, 20_000, 400):
        assert loaded.search(sample["fps"][row], k=10) == index.search(sample["fps"][row], k=10)


def test_build_is_deterministic_and_ignores_input_order(sample, index):
    perm = np.random.default_rng(9).permutation(len(sample["ids"]))
    again = FingerprintIndex.build(sample["ids"][perm], sample["fps"][perm])
    assert (again.ids == index.ids).all()
    assert (again.offsets == index.offsets).all()
    assert (again.centroids == index.centroids).all()


def test_bad_inputs_raise_typed_errors(sample, index, tmp_path):
    with pytest.raises(PolyBenchError, match="256 packed bytes"):
        index.search(b"\x00" * 100)
    with pytest.raises(PolyBenchError, match="unique"):
        FingerprintIndex.build(np.zeros(3, dtype=np.int64), sample["fps"][:3])
    with pytest.raises(PolyBenchError, match="shape"):
        FingerprintIndex.build(np.arange(3), sample["fps"][:3, :128])
    with pytest.raises(PolyBenchError, match="no fingerprint index"):
        FingerprintIndex.load(tmp_path / "missing")
