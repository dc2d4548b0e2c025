"""Speed and agreement of the repeat-unit key against the naive min-over-all-frames key.

    .venv/bin/python -m bench.bench_repeat_unit            # 20,000 SMiPoly 2-star units + all PolyMetriX
    .venv/bin/python -m bench.bench_repeat_unit --n-smipoly 2000

Both keys share parsing and undoubling; the baseline then cuts the unit at every frame bond, sanitises
each frame and keeps the smallest canonical SMILES. The two keys are different strings by design (ours
is the smallest over a few symmetry-chosen frames), so agreement means: they group the units the same
way (no key splits or merges the other's groups) and our key is always one of the baseline's frames.
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import pandas as pd
from rdkit import Chem

from kb.errors import InvalidPolymerError
from kb.repeat_unit import (
    _checked_stars,
    _ends,
    _frame_bonds,
    _undoubled,
    batch_to_repeat_units,
    parse_polymer,
    to_repeat_unit,
)

DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "data"  # the read-only mirror


def naive_frames(text: str) -> set[str]:
    """Canonical SMILES of every frame of a 2-star unit (after the same undoubling as ours)."""
    mol = parse_polymer(text)
    if mol is None:
        raise InvalidPolymerError(text, "unparseable")
    _checked_stars(text, mol)
    star_a, a, star_z, z = _ends(mol)
    primitive = _undoubled(mol, a, _frame_bonds(mol, a, z))
    if primitive is not None:
        mol = primitive
        star_a, a, star_z, z = _ends(mol)
    frames = {Chem.MolToSmiles(mol)}
    if a == z:
        return frames
    join_type = mol.GetBondBetweenAtoms(star_z, z).GetBondType()
    mol = Chem.Mol(mol)
    Chem.Kekulize(mol, clearAromaticFlags=True)  # each frame is re-perceived from scratch, as if parsed
    for u, v in _frame_bonds(mol, a, z):
        frame = Chem.RWMol(mol)
        cut_type = frame.GetBondBetweenAtoms(u, v).GetBondType()
        frame.RemoveBond(u, v)
        frame.AddBond(z, a, join_type)
        frame.AddBond(u, frame.AddAtom(Chem.Atom(0)), cut_type)
        frame.AddBond(v, frame.AddAtom(Chem.Atom(0)), cut_type)
        for star in sorted((star_a, star_z), reverse=True):
            frame.RemoveAtom(star)
        Chem.SanitizeMol(frame)
        frames.add(Chem.MolToSmiles(frame))
    return frames


def load_texts(data_dir: Path, n_smipoly: int) -> list[str]:
    """First n 2-star SMiPoly PSMILES plus every PolyMetriX PSMILES."""
    smipoly_file = data_dir / "smipoly/SMiPoly_001_generatedPolymer.csv.gz"
    smipoly = pd.read_csv(smipoly_file, usecols=["polym"])["polym"]
    two_star = smipoly[smipoly.str.count(r"\*") == 2].head(n_smipoly).tolist()
    polymetrix = pd.read_csv(data_dir / "polymetrix_tg/Polymer_Tg.csv")["PSMILES"].dropna().tolist()
    return two_star + polymetrix


def timed(fn: Callable[[str], object], texts: list[str]) -> tuple[list[object], float]:
    """Results of fn over texts (None for a rejected text) and units per CPU second of this process."""
    start = time.process_time()  # CPU time: fairer than wall time on a shared machine
    out = []
    for text in texts:
        try:
            out.append(fn(text))
        except InvalidPolymerError:
            out.append(None)
    return out, len(texts) / (time.process_time() - start)


def agreeing_pairs(pairs: list[tuple[str, str]]) -> int:
    """Units whose two keys group them alike: each key maps to exactly one key of the other kind."""
    forward: dict[str, set[str]] = defaultdict(set)
    backward: dict[str, set[str]] = defaultdict(set)
    for ours, naive in pairs:
        forward[ours].add(naive)
        backward[naive].add(ours)
    return sum(len(forward[o]) == 1 and len(backward[n]) == 1 for o, n in pairs)


def main() -> None:
    """Run the benchmark and print a table."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n-smipoly", type=int, default=20_000)
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR)
    args = parser.parse_args()
    texts = load_texts(args.data_dir, args.n_smipoly)

    ours, ours_rate = timed(lambda t: to_repeat_unit(t).key, texts)
    naive, naive_rate = timed(naive_frames, texts)
    batch_rates = {}
    for n_jobs in (1, 2):
        start = time.perf_counter()
        batch = batch_to_repeat_units(texts, n_jobs=n_jobs)
        batch_rates[n_jobs] = len(texts) / (time.perf_counter() - start)

    both = [(o, n) for o, n in zip(ours, naive) if o is not None and n is not None]
    in_frames = sum(o in n for o, n in both)
    pairs = [(o, min(n)) for o, n in both]
    agree = agreeing_pairs(pairs)
    same_batch = all((b.key if not isinstance(b, str) else None) == o for b, o in zip(batch, ours))

    print(f"units: {len(texts)} ({len(both)} keyed by both, {sum(o is None for o in ours)} rejected)")
    print(f"{'method':<40}{'units/s':>10}{'ratio':>8}")
    print(f"{'naive min over all frames (CPU time)':<40}{naive_rate:>10.0f}{1.0:>8.2f}")
    print(f"{'ours, 1 process (CPU time)':<40}{ours_rate:>10.0f}{ours_rate / naive_rate:>8.2f}")
    for n_jobs, rate in batch_rates.items():
        label = f"ours, batch n_jobs={n_jobs} (wall clock)"
        print(f"{label:<40}{rate:>10.0f}{rate / naive_rate:>8.2f}")
    print(f"our key is one of the naive frames: {in_frames}/{len(both)} ({100 * in_frames / len(both):.2f}%)")
    print(f"distinct keys: ours {len({o for o, _ in pairs})}, naive {len({n for _, n in pairs})}")
    print(f"key agreement (same grouping): {agree}/{len(pairs)} ({100 * agree / len(pairs):.2f}%)")
    ok = in_frames == agree == len(both) and same_batch
    print(f"batch n_jobs=2 == single process: {same_batch}; {'ALL AGREE' if ok else 'MISMATCH: see above'}")


if __name__ == "__main__":
    main()
