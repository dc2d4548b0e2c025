"""kb.features on real polymers: known answers, chain-context counts, fingerprints, the parallel batch."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest
from rdkit import Chem
from rdkit.Chem import rdMolDescriptors

from kb import features as F
from kb.errors import InvalidPolymerError
from kb.features import (
    FEATURE_COLUMNS,
    FP_BITS,
    FUNCTIONAL_GROUPS,
    GROUP_COLUMNS,
    batch_featurize,
    features_of,
    fingerprint_of,
    fingerprint_of_mol,
    groups_present,
)

PE = "*CC*"
PS = "*CC(*)c1ccccc1"
PET = "*OCCOC(=O)c1ccc(C(*)=O)cc1"
NYLON66 = "*NCCCCCCNC(=O)CCCCC(*)=O"
PDMS = "*O[Si](*)(C)C"
PMMA = "*CC(*)(C)C(=O)OC"
KAPTON = "*c1ccc(Oc2ccc(N3C(=O)c4cc5c(cc4C3=O)C(=O)N(*)C5=O)cc2)cc1"
PC = "*Oc1ccc(C(C)(C)c2ccc(OC(*)=O)cc2)cc1"
PU = "*OCCCCOC(=O)Nc1ccc(Cc2ccc(NC(*)=O)cc2)cc1"
POXA = "*c1cccc(N2CC(COc3ccc(C(C)(C)c4ccc(OCC5CN(*)C(=O)O5)cc4)cc3)OC2=O)c1C"  # SMiPoly polyoxazolidone

# name: key, formula, mw, aromatic rings, groups present {name: count}, groups absent
KNOWN = {
    "PE": (PE, "C2H4", 28.05, 0, {}, ["ester", "ether", "alkene", "phenyl"]),
    "PS": (PS, "C8H8", 104.15, 1, {"phenyl": 1, "aromatic_ring": 1}, ["alkene", "ester"]),
    "PET": (PET, "C10H8O4", 192.17, 1, {"ester": 2, "phenyl": 1},
            ["ether", "ketone", "carbonate", "anhydride", "carboxylic_acid"]),
    "nylon-6,6": (NYLON66, "C12H22N2O2", 226.32, 0, {"amide": 2},
                  ["imide", "urea", "urethane", "ketone", "secondary_amine", "primary_amine"]),
    "PDMS": (PDMS, "C2H6OSi", 74.15, 0, {"siloxane": 1}, ["ether", "hydroxyl"]),
    "PMMA": (PMMA, "C5H8O2", 100.12, 0, {"ester": 1}, ["ether", "ketone", "carboxylic_acid", "alkene"]),
    # RDKit perceives the pyromellitic diimide core as aromatic: 3 benzene rings + 2 imide rings
    "Kapton": (KAPTON, "C22H10N2O5", 382.33, 5, {"imide": 2, "ether": 1, "phenyl": 3},
               ["amide", "ketone", "ester", "anhydride", "urethane"]),
}


@pytest.mark.parametrize("name", KNOWN)
def test_known_polymers(name: str) -> None:
    key, formula, mw, aromatic_rings, present, absent = KNOWN[name]
    features = features_of(key)
    assert features["formula"] == formula
    assert features["mw"] == pytest.approx(mw, abs=0.01)
    assert features["aromatic_rings"] == aromatic_rings
    assert features["n_attachments"] == 2
    found = groups_present(key)
    assert {g: found.get(g, 0) for g in present} == present
    assert not set(absent) & set(found)


# one real polymer per group: (group, key, count per repeat unit)
GROUP_CASES = [
    ("ester", PET, 2), ("amide", NYLON66, 2), ("amide", "*CC(*)N1CCCC1=O", 1), ("imide", KAPTON, 2),
    ("ether", "*CCO*", 1), ("ether", "*Oc1c(C)cc(*)cc1C", 1), ("carbonate", PC, 1), ("urethane", PU, 2),
    ("urea", "*NCCNC(=O)Nc1ccc(Cc2ccc(NC(*)=O)cc2)cc1", 2),
    ("sulfone", "*Oc1ccc(C(C)(C)c2ccc(Oc3ccc(S(=O)(=O)c4ccc(*)cc4)cc3)cc2)cc1", 1), ("siloxane", PDMS, 1),
    ("ketone", "*Oc1ccc(Oc2ccc(C(=O)c3ccc(*)cc3)cc2)cc1", 1), ("nitrile", "*CC(*)C#N", 1),
    ("carboxylic_acid", "*CC(*)C(=O)O", 1), ("hydroxyl", "*CC(*)O", 1), ("primary_amine", "*CC(*)N", 1),
    ("secondary_amine", "*CCN*", 1), ("aromatic_ring", PS, 1), ("alkene", "*CC=CC*", 1),
    ("anhydride", "*C1C(=O)OC(=O)C1*", 1), ("anhydride", "*C(=O)CCCCCCCCC(=O)O*", 1), ("acetal", "*CO*", 1),
    ("thioether", "*Sc1ccc(*)cc1", 1), ("sulfonamide", "*NCCCCCCNS(=O)(=O)c1cccc(S(*)(=O)=O)c1", 2),
    ("imine", "*N=Cc1ccc(C=Nc2ccc(*)cc2)cc1", 2), ("nitro", "*CC(*)c1ccc([N+](=O)[O-])cc1", 1),
    ("epoxide", "*CC(*)(C)C(=O)OCC1CO1", 1), ("oxazolidone", POXA, 2), ("fluoro", "*C(F)(F)C(*)(F)F", 4),
    ("chloro", "*CC(*)Cl", 1), ("bromo", "*CC(*)c1ccc(Br)cc1", 1), ("phenyl", "*CC(*)c1ccc(Br)cc1", 1),
    ("pyridine_n", "*CC(*)c1ccncc1", 1),
]


@pytest.mark.parametrize(("group", "key", "count"), GROUP_CASES)
def test_each_group_on_a_real_polymer(group: str, key: str, count: int) -> None:
    assert groups_present(key).get(group) == count
    assert features_of(key)[GROUP_COLUMNS[group]] == count


def test_every_group_has_a_case_and_a_column() -> None:
    assert {g for g, _, _ in GROUP_CASES} == set(FUNCTIONAL_GROUPS)
    assert set(GROUP_COLUMNS.values()) <= set(FEATURE_COLUMNS)
    assert all(Chem.MolFromSmarts(g.smarts) is not None for g in FUNCTIONAL_GROUPS.values())


@pytest.mark.parametrize(("key", "present", "absent"), [
    (PC, {"carbonate": 1}, ["ester", "ether"]),                           # carbonate O is not ester/ether O
    ("*C(=O)CCCCCCCCC(=O)O*", {"anhydride": 1}, ["ester", "ketone"]),      # anhydride O is not an ester
    (PU, {"urethane": 2}, ["amide", "ester", "ether"]),
    ("*NCCNC(=O)Nc1ccc(Cc2ccc(NC(*)=O)cc2)cc1", {"urea": 2}, ["amide", "secondary_amine"]),
    ("*CO*", {"acetal": 1}, ["ether"]),                                    # POM: acetal O is not an ether
    ("*CC(*)(C)C(=O)OCC1CO1", {"epoxide": 1, "ester": 1}, ["ether"]),
    (POXA, {"oxazolidone": 2, "ether": 2}, ["urethane", "ester"]),
    ("*CC(*)C(=O)O", {"carboxylic_acid": 1}, ["hydroxyl", "ester"]),
])
def test_a_linkage_counts_once_by_its_most_specific_group(key: str, present: dict, absent: list) -> None:
    found = groups_present(key)
    assert {g: found.get(g, 0) for g in present} == present
    assert not set(absent) & set(found)


def test_backbone_and_side_chain() -> None:
    pmma, pet, ps = features_of(PMMA), features_of(PET), features_of(PS)
    assert (pmma["backbone_atoms"], pmma["sidechain_atoms"], pmma["backbone_aromatic"]) == (2, 5, False)
    assert (pet["backbone_atoms"], pet["sidechain_atoms"], pet["backbone_aromatic"]) == (12, 2, True)  # C=O pendant
    assert (ps["backbone_atoms"], ps["sidechain_atoms"]) == (2, 6)


def test_chain_context_counts_the_link_once() -> None:
    assert features_of(PE)["rotatable_bonds"] == 2    # C-C inside the unit + the link bond
    assert features_of(PS)["rotatable_bonds"] == 3
    assert features_of(PET)["rotatable_bonds"] == 7   # every acyclic backbone bond, NonStrict rule
    peo = features_of("*CCO*")
    assert (peo["tpsa"], peo["hbd"], peo["hba"]) == (9.23, 0, 1)  # an ether O, not an OH
    assert features_of(PE)["logp"] == pytest.approx(2 * (0.1441 + 2 * 0.123))  # two CH2 between carbons


FRAMES = {
    "PET": [PET, "*COC(=O)c1ccc(C(=O)OC*)cc1", "*C(=O)c1ccc(C(=O)OCCO*)cc1", "*c1ccc(C(=O)OCCOC(*)=O)cc1"],
    "nylon-6": ["*NCCCCCC(*)=O", "*CCCCCC(=O)N*", "*CCC(=O)NCCC*"],
    "PC": [PC, "*C(=O)Oc1ccc(C(C)(C)c2ccc(O*)cc2)cc1", "*c1ccc(C(C)(C)c2ccc(OC(=O)O*)cc2)cc1"],
    "PEO": ["*CCO*", "*COC*", "*OCC*"],
    "PU": [PU, "*CCOC(=O)Nc1ccc(Cc2ccc(NC(=O)OCC*)cc2)cc1"],
    "PMMA": [PMMA, "*C(C)(C(=O)OC)C*"],
}


@pytest.mark.parametrize("name", FRAMES)
def test_features_do_not_depend_on_the_frame(name: str) -> None:
    first, *others = (features_of(key) for key in FRAMES[name])
    for other in others:
        assert other == first


def test_plain_link_shortcut_matches_the_dimer_count() -> None:
    for key in [PE, PS, PMMA, "*CC(*)c1ccc(Br)cc1", "*CC(*)(C)C(=O)OCC1CO1", "*CC(C)(C)CC*", "*C1CCC(*)CC1"]:
        mol = F._to_mol(key)
        assert F._chain_pair(mol, F._stars(mol, key)) is None, key
        assert F._features_and_fp(key) == F._features_and_fp(key, shortcut=False), key


@pytest.mark.parametrize("smiles", ["C=CC(=O)OC", "Oc1ccccc1", "CC(=O)Nc1ccc(O)cc1", "c1ccncc1"])
def test_no_attachment_logp_is_rdkit_mollogp(smiles: str) -> None:
    features = features_of(smiles)
    logp, mr = rdMolDescriptors.CalcCrippenDescriptors(Chem.MolFromSmiles(smiles))  # = MolLogP, MolMR
    assert (features["logp"], features["mr"]) == (round(logp, 5), round(mr, 5))
    assert (features["n_attachments"], features["backbone_atoms"], features["sidechain_atoms"]) == (0, None, None)


def test_multi_attachment_has_no_backbone_but_everything_else() -> None:
    features = features_of("*CC(*)S(=O)(=O)C(*)C*")  # SMiPoly divinyl sulfone network unit
    assert features["n_attachments"] == 4
    assert features["backbone_atoms"] is None and features["backbone_aromatic"] is None
    assert (features["formula"], features["n_sulfone"], features["hba"]) == ("C4H6O2S", 1, 2)


def test_fingerprint_is_stable_packed_morgan() -> None:
    fp = fingerprint_of(PET)
    assert isinstance(fp, bytes) and len(fp) == FP_BITS // 8 == 256
    assert fp == fingerprint_of(PET) == fingerprint_of_mol(Chem.MolFromSmiles(PET))
    bits = np.unpackbits(np.frombuffer(fp, dtype=np.uint8))
    assert 10 < bits.sum() < 100
    assert fingerprint_of(PE) != fingerprint_of("*CC(*)C")


def test_malformed_key_raises_with_reason() -> None:
    with pytest.raises(InvalidPolymerError) as err:
        features_of("*CC(*")
    assert err.value.text == "*CC(*" and "SMILES" in err.value.reason
    with pytest.raises(InvalidPolymerError, match="valence"):
        features_of("*C(C)(C)(C)(C)C*")
    with pytest.raises(InvalidPolymerError):
        groups_present("")
    for key, reason in [("*C*C", "one neighbour"), ("**", "bonded to each other"), ("*CC.*CC", "fragments")]:
        with pytest.raises(InvalidPolymerError, match=reason):
            features_of(key)


def test_groups_present_takes_a_mol_or_a_key() -> None:
    assert groups_present(Chem.MolFromSmiles(PU)) == groups_present(PU) == {
        "urethane": 2, "aromatic_ring": 2, "phenyl": 2}


def test_batch_parallel_equals_serial_and_keeps_reasons() -> None:
    keys = [PE, PS, PET, "*CC(*", NYLON66, PDMS, PMMA, KAPTON, PC, PU, POXA, "*CC(*)S(=O)(=O)C(*)C*",
            "Oc1ccccc1", "*C(C)(C)(C)(C)C*", "*CO*", "*CCN*"] * 3
    ticks: list[int] = []
    serial, serial_fps, serial_reasons = batch_featurize(keys, n_jobs=1, chunk_size=7, progress=ticks.append)
    parallel, parallel_fps, parallel_reasons = batch_featurize(keys, n_jobs=2, chunk_size=7)
    assert sum(ticks) == len(keys)
    pd.testing.assert_frame_equal(serial, parallel)
    assert serial_fps == parallel_fps and serial_reasons == parallel_reasons
    assert list(serial.columns) == list(FEATURE_COLUMNS) and len(serial) == len(keys)
    bad = [i for i, reason in enumerate(serial_reasons) if reason is not None]
    assert bad == [i for i, key in enumerate(keys) if key in ("*CC(*", "*C(C)(C)(C)(C)C*")]
    assert serial.loc[bad].isna().all(axis=None) and all(serial_fps[i] is None for i in bad)
    assert serial.loc[2].to_dict() == {k: v for k, v in features_of(PET).items()}
    assert serial_fps[2] == fingerprint_of(PET)


def test_empty_batch_gives_an_empty_typed_frame() -> None:
    frame, fps, reasons = batch_featurize([], n_jobs=2)
    assert frame.shape == (0, len(FEATURE_COLUMNS)) and fps == reasons == []
    assert str(frame["n_ester"].dtype) == "Int32" and frame["formula"].dtype == object


def test_frame_loads_into_duckdb_with_the_declared_types() -> None:
    frame, _, _ = batch_featurize([PE, "*CC(*", PET, "*CC(*)S(=O)(=O)C(*)C*"])
    con = duckdb.connect()
    con.register("frame_view", frame)
    con.execute("CREATE TABLE features AS SELECT * FROM frame_view")
    types = dict(con.execute("SELECT column_name, data_type FROM information_schema.columns "
                             "WHERE table_name = 'features'").fetchall())
    assert types == FEATURE_COLUMNS
    assert con.execute("SELECT count(*) FROM features WHERE formula IS NULL").fetchone() == (1,)


def test_features_do_not_depend_on_what_was_computed_before(small_kb) -> None:
    """A unit's features are a function of its key alone: the small KB's units featurised in file order and in
    reverse order give the same table, so a build's content cannot depend on how its chunks were spread over
    worker processes (a per-process cache of Crippen contributions keyed by radius-2 Morgan environments once
    made it so: an aliphatic and an aromatic-ring carbonyl O share that environment but not their type)."""
    con = duckdb.connect(str(small_kb.db_path), read_only=True)
    try:
        keys = [k for (k,) in con.execute("SELECT key FROM polymers ORDER BY polymer_id").fetchall()]
    finally:
        con.close()
    forward, _, _ = F.batch_featurize(keys)
    backward, _, _ = F.batch_featurize(keys[::-1])
    backward = backward.iloc[::-1].reset_index(drop=True)
    pd.testing.assert_frame_equal(forward, backward)
