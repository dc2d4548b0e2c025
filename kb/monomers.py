"""SMiPoly monomers and polymer-monomer links: which monomers make which polymer, by which class."""

from __future__ import annotations

import contextlib
import io
import logging

import pandas as pd
from rdkit import Chem, RDLogger

from kb.readers import Rejection

log = logging.getLogger(__name__)
RDLogger.DisableLog("rdApp.*")

MONOMER_CLASS_COLUMNS = ["vinyl", "epo", "cOle", "lactone", "lactam", "hydCOOH", "aminCOOH", "hindPhenol",
                         "cAnhyd", "CO", "HCHO", "sfonediX", "BzodiF", "diepo", "diCOOH", "diol", "diamin",
                         "diNCO", "dicAnhyd", "pridiamin", "diol_b"]


def canonical_smiles(smiles: str) -> str | None:
    """RDKit canonical SMILES of a small molecule, or None when it does not parse."""
    mol = Chem.MolFromSmiles(smiles) if smiles else None
    return Chem.MolToSmiles(mol) if mol is not None else None


def monomer_table(rows: pd.DataFrame) -> tuple[pd.DataFrame, list[Rejection]]:
    """The monomers table from SMiPoly's monomer set, classified with SMiPoly's own rules."""
    from smipoly.smip import monc  # heavy import, only needed here

    canon = rows["smiles"].map(canonical_smiles)
    rejections = [Rejection(int(r.row_index), "row", "SMILES", r.smiles, "monomer SMILES does not parse")
                  for r in rows[canon.isna()].itertuples()]
    good = rows[canon.notna()].assign(canonical_smiles=canon[canon.notna()])
    with contextlib.redirect_stdout(io.StringIO()):  # smipoly prints progress
        classified = monc.moncls(good[["smiles"]].rename(columns={"smiles": "SMILES"}).reset_index(drop=True),
                                 smiColn="SMILES")
    # moncls may return more rows than it was given (it expands some entries): key its verdicts by SMILES
    flags = classified.drop_duplicates("SMILES").set_index("SMILES")[MONOMER_CLASS_COLUMNS]
    by_smiles = {smi: [c for c, f in zip(MONOMER_CLASS_COLUMNS, row) if f] for smi, row in
                 zip(flags.index, flags.to_numpy())}
    classes = [by_smiles.get(smi, []) for smi in good["smiles"]]
    cids = good["cid"].str.replace("CID", "", regex=False)
    ids = pd.to_numeric(cids, errors="coerce")
    if ids.isna().any() or ids.duplicated().any():
        ids = pd.Series(range(1, len(good) + 1), index=good.index)
    table = pd.DataFrame({
        "monomer_id": ids.astype("int64").to_numpy(), "cid": good["cid"].to_numpy(),
        "smiles": good["smiles"].to_numpy(), "canonical_smiles": good["canonical_smiles"].to_numpy(),
        "iupac_name": good["name"].to_numpy(), "formula": good["formula"].to_numpy(),
        "mw": good["mw"].to_numpy(), "monomer_classes": classes,
    })
    return table, rejections


def link_table(rows: pd.DataFrame, polymer_ids: pd.Series, monomers: pd.DataFrame,
               source_id: str) -> pd.DataFrame:
    """polymer_monomers rows (mon1, mon2) for SMiPoly rows that were ingested (polymer_ids aligned)."""
    id_by_smiles = dict(zip(monomers["canonical_smiles"], monomers["monomer_id"]))
    unique = pd.unique(pd.concat([rows["mon1"], rows["mon2"]]))
    canon = {s: canonical_smiles(s) for s in unique if s}
    parts = []
    for role in ("mon1", "mon2"):
        present = rows[role] != ""
        smiles = rows.loc[present, role]
        parts.append(pd.DataFrame({
            "polymer_id": polymer_ids[present].to_numpy(),
            "monomer_id": smiles.map(lambda s: id_by_smiles.get(canon.get(s))).astype("Int64").to_numpy(),
            "monomer_smiles": smiles.to_numpy(), "role": role,
            "polymer_class": rows.loc[present, "polymer_class"].to_numpy(),
            "source_id": source_id, "row_index": rows.loc[present, "row_index"].to_numpy(),
        }))
    return pd.concat(parts, ignore_index=True)
