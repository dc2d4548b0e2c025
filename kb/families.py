"""Families of polymers that are plausibly one material recorded twice, so that they share a split.

Two rows of one source can carry the same material under two structures (two PolyMetriX rows named
"Poly(4-p-toluoylstyrene)" with different SMILES and the same Tg). If one lands in test and the other in
train, the test value is readable through its twin (by name, similarity or SQL). Polymers are linked when
they share
  - a name (case and spacing ignored): a name lookup must never cross a split;
  - a source row (one record that yields several polymers);
  - a DOI entry: the same reference with the same values of the same properties under the same conditions,
    at least two values (one shared value is often a coincidence: chi = 0.48 of two polymers in a handbook).
Families are the connected components of these links; kb.splits keeps each one in a single split.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

MIN_ENTRY_VALUES = 2  # values a DOI entry needs before equal entries count as one material
_CONDITIONS = ["temperature_k", "gas", "solvent", "conditions"]


def normalised_name(names: pd.Series) -> pd.Series:
    """Names compared case-insensitively with runs of whitespace as one space."""
    return names.astype("string").str.casefold().str.replace(r"\s+", " ", regex=True).str.strip()


def family_links(names: pd.DataFrame, measurements: pd.DataFrame) -> pd.DataFrame:
    """(polymer_id, link) rows: polymers that share a link value belong to one family.

    names: polymer_id, name; measurements: polymer_id, source_id, row_index, property, original_value,
    reference and the condition columns.
    """
    parts = []
    if len(names):
        named = names.assign(link="name:" + normalised_name(names["name"]))
        parts.append(named.loc[named["link"].str.len() > len("name:"), ["polymer_id", "link"]])
    if len(measurements):
        rows = measurements.assign(link="row:" + measurements["source_id"].astype(str) + "#"
                                   + measurements["row_index"].astype(str))
        parts.append(rows[["polymer_id", "link"]])
        parts.append(_doi_entries(measurements))
    if not parts:
        return pd.DataFrame({"polymer_id": pd.Series(dtype="int64"), "link": pd.Series(dtype="string")})
    return pd.concat(parts, ignore_index=True).drop_duplicates(ignore_index=True)


def _doi_entries(measurements: pd.DataFrame) -> pd.DataFrame:
    """(polymer_id, link) of each source row with a reference: the reference plus its sorted values."""
    ref = measurements["reference"].astype("string").str.strip()
    keep = ref.notna() & (ref != "")
    if not keep.any():
        return pd.DataFrame({"polymer_id": pd.Series(dtype="int64"), "link": pd.Series(dtype="string")})
    m = measurements[keep.to_numpy()]
    conditions = [m[c].astype("string").fillna("") for c in _CONDITIONS if c in m.columns]
    value = m["property"].astype(str) + "=" + m["original_value"].astype(str)
    for column in conditions:
        value = value + "|" + column
    frame = pd.DataFrame({"polymer_id": m["polymer_id"].to_numpy(), "source_id": m["source_id"].to_numpy(),
                          "row_index": m["row_index"].to_numpy(), "reference": ref[keep].to_numpy(),
                          "value": value.to_numpy()})
    entries = (frame.sort_values("value").groupby(["polymer_id", "source_id", "row_index", "reference"])["value"]
               .agg(lambda v: (len(v), "\x1f".join(v))).reset_index())
    entries = entries[entries["value"].map(lambda t: t[0] >= MIN_ENTRY_VALUES)]
    link = "doi:" + entries["reference"].astype(str) + "\x1e" + entries["value"].map(lambda t: t[1])
    return pd.DataFrame({"polymer_id": entries["polymer_id"].to_numpy(), "link": link.to_numpy()})


def family_labels(ids: np.ndarray, links: pd.DataFrame) -> np.ndarray:
    """A family label per id (aligned with ids): -1 for a polymer linked to no other, else the lowest row
    of its family, so labels do not depend on the order of links."""
    ids = np.asarray(ids, dtype=np.int64)
    labels = np.full(len(ids), -1, dtype=np.int64)
    if not len(links) or not len(ids):
        return labels
    order = np.argsort(ids, kind="stable")
    pos = np.searchsorted(ids, links["polymer_id"].to_numpy(dtype=np.int64), sorter=order)
    pos = np.minimum(pos, len(ids) - 1)
    rows = order[pos]
    known = ids[rows] == links["polymer_id"].to_numpy(dtype=np.int64)
    link_code = pd.factorize(links["link"].to_numpy()[known])[0]
    rows = rows[known]
    shared = np.bincount(link_code)[link_code] > 1  # a link held by one polymer joins nothing
    rows, link_code = rows[shared], link_code[shared]
    if not len(rows):
        return labels
    parent = np.arange(len(ids), dtype=np.int64)  # union-find over rows, by lowest row of each link
    while True:
        low = np.full(int(link_code.max()) + 1, len(ids), dtype=np.int64)
        np.minimum.at(low, link_code, parent[rows])
        new = parent.copy()
        np.minimum.at(new, rows, low[link_code])
        new = new[new]
        if np.array_equal(new, parent):
            break
        parent = new
    sizes = np.bincount(parent, minlength=len(ids))
    labels = np.where(sizes[parent] > 1, parent, -1)
    return labels
