"""The texts people search by words: named or measured polymers, SMiPoly monomers, property definitions."""

from __future__ import annotations

import pandas as pd

from kb.properties import PROPERTIES


def _group_names(features: pd.DataFrame) -> pd.Series:
    """Comma-joined functional groups present, per row of the features frame."""
    group_cols = [c for c in features.columns if c.startswith("n_") and c not in ("n_attachments", "n_f", "n_cl",
                                                                                     "n_br")]
    present = features[group_cols].fillna(0).astype(bool).to_numpy()
    names = [c[2:].replace("_", " ") for c in group_cols]
    return pd.Series([", ".join(n for n, p in zip(names, row) if p) for row in present], index=features.index)


def text_docs(polymers: pd.DataFrame, tables, features: pd.DataFrame) -> list:
    """TextDoc list for the text index (doc_id 'polymer:<id>', 'monomer:<id>', 'property:<name>')."""
    from kb.text_index import TextDoc

    docs = [TextDoc(f"property:{p.name}", "property", f"{p.name.replace('_', ' ')}: {p.description} ({p.unit})")
            for p in PROPERTIES.values()]
    if tables.monomers is not None:
        for m in tables.monomers.itertuples():
            classes = ", ".join(m.monomer_classes) if len(m.monomer_classes) else "unclassified"
            docs.append(TextDoc(f"monomer:{m.monomer_id}", "monomer",
                                f"{m.iupac_name} (monomer, {classes}) {m.canonical_smiles}"))
    wanted = polymers[(polymers["n_measurements"] > 0) | polymers["name"].notna()]
    measured = pd.concat(tables.measurements, ignore_index=True) if tables.measurements else None
    props = (measured.groupby("polymer_id")["property"].agg(lambda s: ", ".join(sorted(set(s))))
             if measured is not None else pd.Series(dtype=str))
    feats = features.set_index("polymer_id").loc[wanted["polymer_id"]]
    groups = _group_names(feats.reset_index()).to_numpy()
    for row, group in zip(wanted.itertuples(), groups):
        name = f"{row.name}. " if isinstance(row.name, str) else ""
        measured_text = props.get(row.polymer_id, "")
        # words only: structure search has its own (fingerprint) index, and SMILES would slow MiniLM down
        docs.append(TextDoc(f"polymer:{row.polymer_id}", "polymer",
                            f"{name}polymer with {group or 'no special groups'}; "
                            f"measured: {measured_text.replace('_', ' ') or 'none'}"))
    return docs
