"""Split statistics of built KBs side by side: sizes, measured test polymers, families and close analogues.

    python -m bench.bench_splits --kb-dir /work/main/.polybench/kb --kb-dir .polybench/kb

For each KB: polymers and measured polymers per split; names, families (kb.families: shared name, source
row or DOI entry) and measured polymers whose family spans more than one split (the leak class of issue
8: the goal is 0); and every pair of measured polymers with Morgan Tanimoto >= 0.8 (all pairs, not a
sample) and the share of them in the same split. The first KB is the baseline (e.g. one built before
families), a random 80/10/10 split of the same polymers the reference for the pair share.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from kb.config import KBPaths
from kb.families import family_labels, family_links, normalised_name
from kb.splits import SPLITS

CLOSE = 0.8


def close_pairs(fps: np.ndarray, threshold: float = CLOSE, block: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs (i < j) of packed fingerprints with Tanimoto >= threshold, exhaustively."""
    words = np.ascontiguousarray(fps).view(np.uint64)
    counts = np.bitwise_count(words).sum(axis=1).astype(np.int32)
    left, right = [], []
    for start in range(0, len(words), block):
        chunk = words[start : start + block]
        common = np.bitwise_count(chunk[:, None, :] & words[None, :, :]).sum(axis=2, dtype=np.int32)
        union = counts[start : start + block, None] + counts[None, :] - common
        sims = np.divide(common, union, out=np.zeros(common.shape), where=union > 0)
        i, j = np.nonzero(sims >= threshold)
        keep = j > i + start
        left.append(i[keep] + start)
        right.append(j[keep])
    return np.concatenate(left), np.concatenate(right)


def kb_split_stats(kb_dir: Path, seed: int = 0) -> dict[str, object]:
    """The statistics of one KB (read-only)."""
    con = duckdb.connect(str(KBPaths(kb_dir).db), read_only=True)
    try:
        polymers = con.execute("SELECT polymer_id, split, n_measurements > 0 AS measured FROM polymers "
                               "ORDER BY polymer_id").df()
        names = con.execute("SELECT polymer_id, name FROM polymer_names").df()
        measurements = con.execute("SELECT polymer_id, source_id, row_index, property, original_value, reference, "
                                   "temperature_k, gas, solvent, conditions FROM measurements").df()
        fps = con.execute("SELECT f.polymer_id, f.morgan FROM fingerprints f JOIN polymers p USING (polymer_id) "
                          "WHERE p.n_measurements > 0 ORDER BY 1").df()
    finally:
        con.close()
    split_of = dict(zip(polymers["polymer_id"], polymers["split"]))
    out: dict[str, object] = {}
    for split in SPLITS:
        part = polymers[polymers["split"] == split]
        out[f"polymers {split}"] = len(part)
        out[f"measured {split}"] = int(part["measured"].sum())
    named = names.assign(norm=normalised_name(names["name"]), split=names["polymer_id"].map(split_of))
    crossing = named.groupby("norm")["split"].nunique()
    out["names in >1 split"] = int((crossing > 1).sum())
    labels = family_labels(polymers["polymer_id"].to_numpy(), family_links(names, measurements))
    fam = polymers.assign(family=labels)[labels >= 0]
    spans = fam.groupby("family")["split"].nunique()
    out["families"] = len(spans)
    out["families in >1 split"] = int((spans > 1).sum())
    out["measured polymers in a family crossing splits"] = int(
        fam[fam["family"].isin(spans[spans > 1].index) & fam["measured"]].shape[0])
    packed = np.frombuffer(b"".join(fps["morgan"]), dtype=np.uint8).reshape(-1, 256)
    start = time.perf_counter()
    i, j = close_pairs(packed)
    fp_split = fps["polymer_id"].map(split_of).to_numpy()
    same = fp_split[i] == fp_split[j]
    rng = np.random.default_rng(seed)
    random_split = rng.choice(np.array(SPLITS), size=len(fp_split), p=[0.8, 0.1, 0.1])
    out[f"measured pairs Tanimoto >= {CLOSE}"] = len(i)
    out["  share in the same split"] = round(float(same.mean()), 4) if len(i) else float("nan")
    out["  share, random 80/10/10 split"] = round(float((random_split[i] == random_split[j]).mean()), 4)
    out["  pairs with a test polymer, across splits"] = int(((fp_split[i] == "test") ^ (fp_split[j] == "test")).sum())
    out["pair search seconds"] = round(time.perf_counter() - start, 1)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kb-dir", type=Path, action="append", required=True, help="a KB folder (repeatable)")
    args = parser.parse_args()
    table = pd.DataFrame({str(d): pd.Series(kb_split_stats(d), dtype=object) for d in args.kb_dir})
    with pd.option_context("display.width", 200, "display.max_colwidth", 60):
        print(table.to_string())


if __name__ == "__main__":
    main()
