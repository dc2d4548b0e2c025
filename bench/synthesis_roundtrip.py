"""Agreement of tools.synthesis with the published SMiPoly library, and forward speed vs smipoly's own API.

    python -m bench.synthesis_roundtrip --per-class 300 --baseline-per-class 10

For a seeded sample of rows per polymer class it reports: how often forward_polymer(mon1, mon2, class)
reproduces the row's polym; how often retro_monomers(polym) returns {mon1, mon2} exactly, and "up to salts
and acid halides" (largest fragment, C(=O)Cl -> C(=O)O); and, on a smaller sample, the time per pair of
smipoly's DataFrame API (monc.moncls + polg.biplym) divided by forward_polymer's time in the same run.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import time
import warnings
from pathlib import Path

import pandas as pd
from rdkit import Chem
from rdkit.Chem import rdChemReactions

from tools.synthesis import POLYMER_CLASSES, forward_polymer, retro_monomers

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared/data/smipoly/SMiPoly_001_generatedPolymer.csv.gz"
_ACYL_HALIDE = rdChemReactions.ReactionFromSmarts("[CX3:1](=[O:2])[Cl,Br]>>[C:1](=[O:2])O")


def canonical(smiles: str) -> str:
    """RDKit canonical SMILES."""
    return Chem.MolToSmiles(Chem.MolFromSmiles(smiles))


def parent(smiles: str) -> str:
    """Largest fragment with acid halides turned into acids: what a retro rule can give back."""
    mol = max(Chem.GetMolFrags(Chem.MolFromSmiles(smiles), asMols=True), key=lambda m: m.GetNumHeavyAtoms())
    while products := _ACYL_HALIDE.RunReactants((mol,)):
        mol = products[0][0]
        Chem.SanitizeMol(mol)
    return canonical(Chem.MolToSmiles(mol))


def smipoly_forward(mon1: str, mon2: str, polymer_class: str) -> set[str]:
    """The baseline: smipoly's public API on a two-row DataFrame (its prints and warnings silenced)."""
    from smipoly.smip import monc, polg

    frame = pd.DataFrame({"SMILES": [m for m in (mon1, mon2) if m]})
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = polg.biplym(monc.moncls(frame, smiColn="SMILES"), targ=[polymer_class])
    return {canonical(p) for p in out["polym"]} if out is not None else set()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--per-class", type=int, default=300)
    parser.add_argument("--baseline-per-class", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    rows = pd.read_csv(args.data, keep_default_na=False)
    rows["stars"] = rows["polym"].str.count(r"\*")
    print(f"{'class':16} {'rows':>5} {'forward':>8} {'retro2*':>8} {'parent2*':>9} {'retro>2*':>9} "
          f"{'fwd ms':>7} {'retro ms':>9}")
    base_s = ours_s = 0.0
    base_ok = base_n = 0
    for pclass in POLYMER_CLASSES:
        sample = rows[rows["polymer_class"] == pclass]
        sample = sample.sample(min(args.per_class, len(sample)), random_state=args.seed)
        fwd = exact = par = multi = two = 0
        t_fwd = t_retro = 0.0
        for mon1, mon2, polym, stars in sample[["mon1", "mon2", "polym", "stars"]].itertuples(index=False):
            start = time.perf_counter()
            fwd += canonical(polym) in {canonical(u) for u in forward_polymer([mon1, mon2], pclass)}
            t_fwd += time.perf_counter() - start
            start = time.perf_counter()
            found = [set(r.monomers) for r in retro_monomers(polym) if r.polymer_class == pclass]
            t_retro += time.perf_counter() - start
            hit = {canonical(m) for m in (mon1, mon2) if m} in found
            if stars == 2:
                two += 1
                exact += hit
                par += {parent(m) for m in (mon1, mon2) if m} in found
            else:
                multi += hit
        n = len(sample)
        print(f"{pclass:16} {n:5d} {fwd / n:8.1%} {exact / max(two, 1):8.1%} {par / max(two, 1):9.1%} "
              f"{multi / max(n - two, 1):9.1%} {1e3 * t_fwd / n:7.2f} {1e3 * t_retro / n:9.2f}")
        for mon1, mon2, polym in sample[["mon1", "mon2", "polym"]].head(args.baseline_per_class).itertuples(
                index=False):
            start = time.perf_counter()
            base_ok += canonical(polym) in smipoly_forward(mon1, mon2, pclass)
            base_s += time.perf_counter() - start
            start = time.perf_counter()
            forward_polymer([mon1, mon2], pclass)
            ours_s += time.perf_counter() - start
            base_n += 1
    print(f"\nbaseline smipoly moncls+biplym: {base_ok}/{base_n} rows reproduced, "
          f"{1e3 * base_s / base_n:.1f} ms/pair; forward_polymer {1e3 * ours_s / base_n:.2f} ms/pair; "
          f"speed-up x{base_s / ours_s:.1f}")


if __name__ == "__main__":
    main()
