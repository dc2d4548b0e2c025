"""Tests of kb.repeat_unit: one key per polymer across frames and doublings, distinct polymers stay apart."""

from __future__ import annotations

import random
from itertools import combinations, pairwise
from pathlib import Path

import pandas as pd
import pytest
from rdkit import Chem

from kb.errors import InvalidPolymerError
from kb.repeat_unit import (
    ONE_ATTACHMENT,
    RepeatUnit,
    attachment_path,
    batch_to_repeat_units,
    parse_polymer,
    repeat_unit_power,
    to_mol,
    to_repeat_unit,
)

PET_FRAMES = [  # the unit started at each of its 7 acyclic backbone bonds
    "*OCCOC(=O)c1ccc(C(*)=O)cc1",
    "*CCOC(=O)c1ccc(cc1)C(=O)O*",
    "*COC(=O)c1ccc(cc1)C(=O)OC*",
    "*OC(=O)c1ccc(cc1)C(=O)OCC*",
    "*C(=O)c1ccc(cc1)C(=O)OCCO*",
    "*c1ccc(cc1)C(=O)OCCOC(*)=O",
    "*C(=O)OCCOC(=O)c1ccc(*)cc1",
]
NYLON_66_FRAMES = [
    "*NCCCCCCNC(=O)CCCCC(*)=O",
    "*CCCCCCNC(=O)CCCCC(=O)N*",
    "*C(=O)CCCCC(=O)NCCCCCCN*",
    "*CCCC(=O)NCCCCCCNC(=O)C*",
    "*CCNC(=O)CCCCC(=O)NCCCC*",
    "*NCCCCCCNC(=O)CCCCC(=O)NCCCCCCNC(=O)CCCCC(*)=O",
]


def key(text: str) -> str:
    return to_repeat_unit(text).key


def keys(texts: list[str]) -> set[str]:
    return {key(text) for text in texts}


def test_frames_and_doubling_of_peo_give_one_key():
    texts = ["*CCO*", "*COC*", "*OCC*", "*CCOCCO*", "[*]CCO[*]", "[1*]OCC[2*]", "[*:1]OCC[*:2]"]
    assert keys(texts) == {key("*CCO*")}
    assert to_repeat_unit("*CCO*") == RepeatUnit(key("*CCO*"), "linear", 2)


def test_multiples_of_methylene_are_polyethylene():
    assert keys(["*CC*", "*CCCC*", "*C*", "*CCCCCC*"]) == {"*C*"}


def test_pet_frames_and_doubling_give_one_key():
    doubled = "*OCCOC(=O)c1ccc(C(=O)OCCOC(=O)c2ccc(C(*)=O)cc2)cc1"
    assert len({Chem.CanonSmiles(text) for text in PET_FRAMES}) == 4  # 7 frames, 4 distinct graphs
    assert keys([*PET_FRAMES, doubled]) == {key(PET_FRAMES[0])}


def test_nylon_66_frames_give_one_key_and_differ_from_nylon_6():
    assert keys(NYLON_66_FRAMES) == {key(NYLON_66_FRAMES[0])}
    assert key("*NCCCCCC(*)=O") == key("*NCCCCCC(=O)NCCCCCC(*)=O") != key(NYLON_66_FRAMES[0])


def test_pdms_frames_give_one_key():
    assert keys(["*O[Si](*)(C)C", "*[Si](C)(C)O*", "*O[Si](C)(C)O[Si](*)(C)C"]) == {key("*O[Si](*)(C)C")}


def test_one_bond_backbone_with_its_orders_swapped_gives_one_key():
    """Polyphosphazene: ``*N=P(*)`` and ``*=P(...)N=*`` are frames of the same chain."""
    assert keys(["*N=P(*)(C)C", "*=P(C)(C)N=*", "*N=P(C)(C)N=P(*)(C)C"]) == {"*N=P(*)(C)C"}
    assert key("*N=P(*)(C)C") != key("*NP(*)(C)C")


def test_stereo_and_explicit_hydrogens_are_ignored():
    assert key("*/C=C/*") == key("*\\C=C/*") == key("*C=C*")
    assert key("*/C=C/CC*") == key("*C=CCC*") == key("*CC=CC*")
    assert key("*C[C@@H](*)C") == key("*C[C@H](*)C") == key("*CC(*)C")
    assert key("[H]C([H])(*)C([H])([H])O*") == key("*CCO*")


def test_isotopes_and_charges_off_the_stars_are_kept():
    assert key("*C[13CH2]*") != key("*CC*")
    assert key("*CC(*)[N+](C)(C)C") != key("*CC(*)N(C)C")


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("*CC(*)C", "*CC*"),  # polypropylene vs polyethylene
        ("*CC(C)C(C)C*", "*CC(*)C"),  # head-to-head polypropylene vs polypropylene
        ("*C1CCC(*)CC1", "*CCC1CCC1*"),  # same ring-closed molecule, different polymers
        ("*CC(*)c1ccccc1", "*CC(*)(C)c1ccccc1"),  # polystyrene vs poly(alpha-methylstyrene)
        ("*OCCOC(=O)c1ccc(C(*)=O)cc1", "*OCCOC(=O)c1cccc(C(*)=O)c1"),  # terephthalate vs isophthalate
        ("*CCO*", "*CCCO*"),
        ("*C=CC*", "*C=C*"),
    ],
)
def test_different_polymers_get_different_keys(first: str, second: str):
    assert key(first) != key(second)


def test_frames_across_aromaticity_change_give_one_key():
    """A ring next to ``=*`` is not aromatic, the same ring next to ``=N`` is: frames must still agree."""
    written = (
        "*=Nc1ccc(Oc2ccc(C(c3ccc(Oc4ccc(N=C5OC(=O)c6cc7c(cc65)C(=*)OC7=O)cc4)cc3)"
        "(C(F)(F)F)C(F)(F)F)cc2)cc1"
    )
    shifted = (
        "*N=C1OC(=O)c2cc3c(cc21)C(=Nc1ccc(Oc2ccc(C(c4ccc(Oc5ccc(*)cc5)cc4)"
        "(C(F)(F)F)C(F)(F)F)cc2)cc1)OC3=O"
    )
    assert key(written) == key(shifted)
    doubled_shift = "*C=Nc1ccc(CCc2ccc(NC=Nc3ccc(CCc4ccc(N*)cc4)cc3)cc2)cc1"
    assert key("*=CNc1ccc(CCc2ccc(N=*)cc2)cc1") == key(doubled_shift)


def test_statuses():
    assert to_repeat_unit("CCO") == RepeatUnit("CCO", "no_attachment", 0)
    assert to_repeat_unit("OCC").key == "CCO"
    multi = to_repeat_unit("*CC(*)CC(*)C*")
    assert (multi.status, multi.n_attachments) == ("multi_attachment", 4)
    assert to_repeat_unit("*C*").status == "linear"


@pytest.mark.parametrize(
    ("text", "reason_part"),
    [
        ("*CC", ONE_ATTACHMENT),
        ("*CC(", "could not parse"),
        ("C1CC", "could not parse"),
        ("*C(C)(C)(C)(C)C*", "valence"),
        ("*C.[Na+]", "disconnected fragments"),
        ("*CC*.Brc1ccc(Br)cc1", "disconnected fragments"),
        ("", "empty"),
        ("   ", "empty"),
        ("*", "only an attachment point"),
        ("**", "bonded to each other"),
        ("C*(C)C", "bonded to 3 atoms"),
        ("*=CC*", "different bond orders"),
    ],
)
def test_bad_inputs_raise_naming_the_input(text: str, reason_part: str):
    with pytest.raises(InvalidPolymerError) as caught:
        to_repeat_unit(text)
    assert caught.value.text == text
    assert reason_part in caught.value.reason
    assert repr(text) in str(caught.value)


def test_parse_polymer_normalises_stars_and_returns_none_when_unparseable():
    mol = parse_polymer("[1*]C[C@H](C)[*:2]")
    assert mol is not None
    assert Chem.MolToSmiles(mol) == "*CC(*)C"
    assert parse_polymer("*CC(") is None
    assert parse_polymer("") is None


def test_to_mol_round_trips_a_key_and_raises_on_garbage():
    unit_key = key("*OCC*")
    assert Chem.MolToSmiles(to_mol(unit_key)) == unit_key
    with pytest.raises(InvalidPolymerError):
        to_mol("C(")


def test_attachment_path_runs_between_the_star_neighbours():
    para = to_mol("*c1ccc(*)cc1")
    path = attachment_path(para)
    assert len(path) == 4
    assert all(para.GetBondBetweenAtoms(u, v) is not None for u, v in pairwise(path))
    stars = [atom for atom in para.GetAtoms() if atom.GetAtomicNum() == 0]
    ends = {star.GetNeighbors()[0].GetIdx() for star in stars}
    assert {path[0], path[-1]} == ends
    assert len(attachment_path(to_mol("*C*"))) == 1
    assert len(attachment_path(to_mol("*CC(*)C"))) == 2
    with pytest.raises(InvalidPolymerError):
        attachment_path(to_mol("*CC(*)CC(*)C*"))


def test_repeat_unit_power_chains_copies():
    assert Chem.MolToSmiles(repeat_unit_power(to_mol("*CO*"), 3)) == Chem.CanonSmiles("*COCOCO*")
    assert Chem.MolToSmiles(repeat_unit_power(to_mol("*CO*"), 1)) == Chem.CanonSmiles("*CO*")
    with pytest.raises(ValueError):
        repeat_unit_power(to_mol("*CO*"), 0)


# ---- randomized property test on real units -------------------------------------------------------


def frame_shift(mol: Chem.Mol, u: int, v: int) -> Chem.Mol:
    """The unit started at acyclic backbone bond u-v: cut there, join the old ends (independent of kb)."""
    stars = [atom.GetIdx() for atom in mol.GetAtoms() if atom.GetAtomicNum() == 0]
    (a,), (z,) = ([n.GetIdx() for n in mol.GetAtomWithIdx(s).GetNeighbors()] for s in stars)
    kekule = Chem.RWMol(mol)
    Chem.Kekulize(kekule, clearAromaticFlags=True)
    join = kekule.GetBondBetweenAtoms(stars[0], a).GetBondType()
    cut = kekule.GetBondBetweenAtoms(u, v).GetBondType()
    kekule.RemoveBond(u, v)
    kekule.AddBond(a, z, join)
    for end in (u, v):
        kekule.AddBond(end, kekule.AddAtom(Chem.Atom(0)), cut)
    for star in sorted(stars, reverse=True):
        kekule.RemoveAtom(star)
    Chem.SanitizeMol(kekule)
    return kekule.GetMol()


def backbone_bonds(mol: Chem.Mol) -> list[tuple[int, int]]:
    path = attachment_path(mol)
    return [(u, v) for u, v in pairwise(path) if not mol.GetBondBetweenAtoms(u, v).IsInRing()]


def all_frames(mol: Chem.Mol) -> set[str]:
    """Canonical SMILES of every frame (the naive exact method, without undoubling)."""
    shifted = {Chem.MolToSmiles(frame_shift(mol, u, v)) for u, v in backbone_bonds(mol)}
    return {Chem.MolToSmiles(mol)} | shifted


@pytest.fixture(scope="module")
def linear_sample(data_dir: Path) -> list[str]:
    """200 real linear PSMILES from PolyMetriX (fixed seed)."""
    path = data_dir / "polymetrix_tg" / "Polymer_Tg.csv"
    if not path.exists():
        pytest.skip(f"{path} not found")
    texts = random.Random(0).sample(pd.read_csv(path)["PSMILES"].dropna().tolist(), 250)
    linear = [t for t, u in zip(texts, batch_to_repeat_units(texts)) if not isinstance(u, str)]
    assert len(linear) >= 200
    return linear[:200]


def test_random_frame_shifts_and_doublings_keep_the_key(linear_sample: list[str]):
    rng = random.Random(1)
    mismatches = []
    for text in linear_sample:
        original = key(text)
        mol = to_mol(text)
        variants = [repeat_unit_power(mol, 2), repeat_unit_power(mol, 3)]
        bonds = backbone_bonds(mol)
        for u, v in rng.sample(bonds, min(3, len(bonds))):
            shifted = frame_shift(mol, u, v)
            variants += [shifted, repeat_unit_power(shifted, 2)]
        for variant in variants:
            written = Chem.MolToSmiles(variant, doRandom=True)  # random atom order too
            if key(written) != original:
                mismatches.append((text, written))
    assert mismatches == []


def test_keys_are_idempotent_and_group_exactly_like_the_naive_method(linear_sample: list[str]):
    unit_keys = [key(text) for text in linear_sample]
    assert [key(k) for k in unit_keys] == unit_keys
    frames = []
    for text, unit_key in zip(linear_sample, unit_keys):
        unit, primitive = to_mol(text), to_mol(unit_key)
        copies, rest = divmod(unit.GetNumHeavyAtoms(), primitive.GetNumHeavyAtoms())
        assert rest == 0
        # the key is a real frame of the primitive unit, and the unit is a frame of primitive^copies
        assert all_frames(unit) & all_frames(repeat_unit_power(primitive, copies)), (text, unit_key)
        frames.append(all_frames(primitive))
        assert unit_key in frames[-1]
    for i, j in combinations(range(len(frames)), 2):
        same_polymer = bool(frames[i] & frames[j])
        assert (unit_keys[i] == unit_keys[j]) == same_polymer, (linear_sample[i], linear_sample[j])


def test_batch_with_two_processes_matches_one_and_keeps_reasons_in_place(data_dir: Path):
    path = data_dir / "polymetrix_tg" / "Polymer_Tg.csv"
    if not path.exists():
        pytest.skip(f"{path} not found")
    texts = pd.read_csv(path)["PSMILES"].dropna().tolist()[:500]
    texts[7], texts[300] = "*CC(", "*CC"
    done: list[int] = []
    single = batch_to_repeat_units(texts, n_jobs=1, chunk_size=64, progress=done.append)
    double = batch_to_repeat_units(texts, n_jobs=2, chunk_size=100)
    assert single == double
    assert len(single) == 500 and sum(done) == 500 and len(done) == 8
    assert single[7] == "RDKit could not parse it as SMILES"
    assert single[300] == ONE_ATTACHMENT
    assert single[0] == to_repeat_unit(texts[0])
    assert "disconnected fragments" in single[371]  # a real row: "*CC*.Brc1ccc(Br)cc1"
    assert sum(isinstance(r, str) for r in single) == 3
