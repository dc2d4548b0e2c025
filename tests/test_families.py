"""kb.families and the family merge in kb.splits: one material recorded twice never straddles two splits."""

from __future__ import annotations

import numpy as np
import pandas as pd

from kb.families import family_labels, family_links
from kb.splits import assign_splits, merged_with_families

MEASUREMENT_COLUMNS = ["polymer_id", "source_id", "row_index", "property", "original_value", "reference",
                       "temperature_k", "gas", "solvent", "conditions"]


def _measurements(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=MEASUREMENT_COLUMNS)


def test_names_rows_and_doi_entries_link_polymers():
    names = pd.DataFrame({"polymer_id": [1, 2, 3, 4], "name": ["Poly(4-p-toluoylstyrene)", "poly(4-p-toluoylstyrene) ",
                                                                "PS", "polystyrene"]})
    measurements = _measurements([
        (5, "a.csv", 7, "tg", "372", None, None, None, None, None),     # one source row, two structures
        (6, "a.csv", 7, "tg", "372", None, None, None, None, None),
        (7, "b.csv", 1, "perm_o2", "2.3", "doi:10.1/x", None, "O2", None, None),  # one DOI entry twice
        (7, "b.csv", 1, "perm_n2", "0.5", "doi:10.1/x", None, "N2", None, None),
        (8, "c.csv", 4, "perm_o2", "2.3", "doi:10.1/x", None, "O2", None, None),
        (8, "c.csv", 4, "perm_n2", "0.5", "doi:10.1/x", None, "N2", None, None),
        (9, "d.csv", 1, "chi", "0.48", "handbook", None, None, "water", None),  # one shared value: coincidence
        (10, "d.csv", 2, "chi", "0.48", "handbook", None, None, "water", None),
    ])
    ids = np.arange(1, 11)
    labels = family_labels(ids, family_links(names, measurements))
    family = dict(zip(ids, labels))
    assert family[1] == family[2] >= 0            # case and spacing ignored
    assert family[3] == family[4] == -1           # different names
    assert family[5] == family[6] >= 0 and family[5] != family[1]
    assert family[7] == family[8] >= 0
    assert family[9] == family[10] == -1


def test_links_chain_into_one_family_whatever_their_order():
    names = pd.DataFrame({"polymer_id": [10, 20, 20, 30, 40], "name": ["a", "a", "b", "b", "c"]})
    links = family_links(names, _measurements([]))
    labels = family_labels(np.array([40, 30, 20, 10]), links)
    assert labels[1] == labels[2] == labels[3] >= 0 and labels[0] == -1
    shuffled = family_labels(np.array([40, 30, 20, 10]), links.sample(frac=1.0, random_state=3))
    assert np.array_equal(labels, shuffled)


def test_families_merge_clusters_transitively():
    clusters = np.array([0, 0, 1, 2, 3, 4])
    families = np.array([-1, 7, 7, 5, 5, -1])  # clusters 0-1 joined by family 7, 2-3 by family 5
    assert merged_with_families(clusters, families).tolist() == [0, 0, 0, 2, 2, 4]
    chain = merged_with_families(np.array([3, 2, 2, 1, 1, 0]), np.array([9, 9, 8, 8, 7, 7]))  # 3-2-1-0
    assert chain.tolist() == [0] * 6
    apart = merged_with_families(np.array([3, 2, 1, 0, 0, 1, 2, 3]), np.array([1, 2, 3, -1, -1, 1, 2, 3]))
    assert apart.tolist() == [1, 2, 1, 0, 0, 1, 2, 1]  # clusters 1-3 joined, 2 and 0 alone


def test_a_family_lands_in_one_split():
    rng = np.random.default_rng(0)
    fps = rng.integers(0, 256, size=(400, 256), dtype=np.uint8)  # unrelated fingerprints: far-apart clusters
    ids = np.arange(400) * 3 + 1
    families = np.full(400, -1)
    families[[5, 150, 390]] = 1  # three polymers that are one material
    families[[10, 11]] = 2
    labels, groups = assign_splits(ids, fps, np.ones(400, dtype=bool), seed=0, families=families)
    assert len(set(labels[[5, 150, 390]])) == 1 and len(set(labels[[10, 11]])) == 1
    assert len(set(groups[[5, 150, 390]])) == 1
    plain, _ = assign_splits(ids, fps, np.ones(400, dtype=bool), seed=0)
    assert len(set(plain[[5, 150, 390]])) > 1  # without the family these would have been split apart
