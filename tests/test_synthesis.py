"""Tests of tools.synthesis against real rows of the published SMiPoly library (generatedPolymer file)."""

from __future__ import annotations

import pytest
from rdkit import Chem
from rdkit.Chem import rdChemReactions
from smipoly.smip import polg

from kb.errors import InvalidPolymerError, PolyBenchError
from tools.synthesis import (
    POLYMER_CLASSES,
    RETRO_RULES,
    RetroResult,
    forward_polymer,
    monomer_classes,
    retro_monomers,
)

# (row in SMiPoly_001_generatedPolymer.csv.gz, mon1, mon2, polym, polymer_class), copied verbatim
SMIPOLY_ROWS = [
    (0, "C=C(C)C(=O)O", "", "*CC(*)(C)C(=O)O", "polyolefin"),
    (2, "C=C", "", "*CC*", "polyolefin"),
    (201057, "C=CC(=O)OCCCCCCCC", "C=CC(=O)OCCCCO", "*CC(C(=O)OCCCCO)C(C*)C(=O)OCCCCCCCC", "polyolefin"),
    (523328, "O=C(O)CCCCC(=O)O", "OCCO", "*OCCOC(=O)CCCCC(*)=O", "polyester"),
    (523090, "O=C1CCCCCO1", "", "*OCCCCCC(*)=O", "polyester"),
    (523153, "OCCO", "[C-]#[O+]", "*OCCOC(*)=O", "polyester"),
    (540428, "O=C1C=CC(=O)O1", "C1CO1", "*OCCOC(=O)C=CC(*)=O", "polyester"),
    (548289, "c1ccc(C2CO2)cc1", "", "*OCC(*)c1ccccc1", "polyether"),
    (548421, "Cc1cccc(C)c1O", "", "*Oc1c(C)cc(*)cc1C", "polyether"),
    (548545, "O=S(=O)(c1ccc(Cl)cc1)c1ccc(Cl)cc1", "OCC(F)(F)C(F)(F)C(F)(F)C(F)(F)C(F)(F)C(F)(F)CO",
     "*OCC(F)(F)C(F)(F)C(F)(F)C(F)(F)C(F)(F)C(F)(F)COc1ccc(S(=O)(=O)c2ccc(*)cc2)cc1", "polyether"),
    (549103, "O=C(c1ccc(F)cc1)c1ccc(F)cc1", "Oc1ccc(C2(c3ccc(O)cc3)CCCCC2)cc1",
     "*Oc1ccc(C2(c3ccc(Oc4ccc(C(=O)c5ccc(*)cc5)cc4)cc3)CCCCC2)cc1", "polyether"),
    (549154, "O=C(O)CCCCC(=O)O", "NCCCCCN", "*NCCCCCNC(=O)CCCCC(*)=O", "polyamide"),
    (549152, "O=C1CCCCCN1", "", "*NCCCCCC(*)=O", "polyamide"),
    (564706, "O=C1OC(=O)c2ccc3c4c(ccc1c24)C(=O)OC3=O", "NCCCCCN",
     "*CCCCCN1C(=O)c2ccc3c4c(ccc(c24)C1=O)C(=O)N(*)C3=O", "polyimide"),
    (570151, "Cc1c(N=C=O)cccc1N=C=O", "OCCO", "*OCCOC(=O)Nc1cccc(NC(*)=O)c1C", "polyurethane"),
    (574351, "CC(C)(c1ccc(OCC2CO2)cc1)c1ccc(OCC2CO2)cc1", "Cc1c(N=C=O)cccc1N=C=O",
     "*c1cccc(N2CC(COc3ccc(C(C)(C)c4ccc(OCC5CN(*)C(=O)O5)cc4)cc3)OC2=O)c1C", "polyoxazolidone"),
]
ROW_FIELDS, ROW_IDS = ("row", "mon1", "mon2", "polym", "pclass"), [str(r[0]) for r in SMIPOLY_ROWS]
PET = "*OCCOC(=O)c1ccc(C(*)=O)cc1"
ETHYLENE_GLYCOL, TEREPHTHALIC_ACID = "OCCO", "O=C(O)c1ccc(C(=O)O)cc1"


def unit_key(smiles: str) -> str:
    """Comparison key of a unit or monomer: RDKit canonical SMILES (swap in kb.repeat_unit keys later)."""
    return Chem.MolToSmiles(Chem.MolFromSmiles(smiles))


def test_polymer_classes_are_smipolys() -> None:
    assert POLYMER_CLASSES == tuple(polg.Ps_classL)
    assert {row[4] for row in SMIPOLY_ROWS} == set(POLYMER_CLASSES)


@pytest.mark.parametrize(ROW_FIELDS, SMIPOLY_ROWS, ids=ROW_IDS)
def test_forward_reproduces_smipoly_row(row: int, mon1: str, mon2: str, polym: str, pclass: str) -> None:
    units = forward_polymer([mon1, mon2], pclass)
    assert unit_key(polym) in {unit_key(u) for u in units}


@pytest.mark.parametrize(ROW_FIELDS, SMIPOLY_ROWS, ids=ROW_IDS)
def test_retro_recovers_smipoly_monomers(row: int, mon1: str, mon2: str, polym: str, pclass: str) -> None:
    wanted = {unit_key(m) for m in (mon1, mon2) if m}
    results = retro_monomers(polym)
    assert all(isinstance(r, RetroResult) and r.rule for r in results)
    found = [{unit_key(m) for m in r.monomers} for r in results if r.polymer_class == pclass]
    assert wanted in found, results


@pytest.mark.parametrize(ROW_FIELDS, SMIPOLY_ROWS, ids=ROW_IDS)
def test_forward_then_retro_returns_the_monomers(row: int, mon1: str, mon2: str, polym: str,
                                                  pclass: str) -> None:
    wanted = {unit_key(m) for m in (mon1, mon2) if m}
    for unit in forward_polymer([mon1, mon2], pclass):
        if unit.count("*") == 2:
            results = retro_monomers(unit)
            found = [{unit_key(m) for m in r.monomers} for r in results if r.polymer_class == pclass]
            assert wanted in found, (unit, found)


def test_pet_from_ethylene_glycol_and_terephthalic_acid() -> None:
    for monomers in ([ETHYLENE_GLYCOL, TEREPHTHALIC_ACID], [TEREPHTHALIC_ACID, ETHYLENE_GLYCOL]):
        assert [unit_key(u) for u in forward_polymer(monomers, "Polyester")] == [unit_key(PET)]
    expected = RetroResult("polyester", (TEREPHTHALIC_ACID, ETHYLENE_GLYCOL), "ester -> diacid + diol")
    assert retro_monomers(PET) == [expected]


def test_retro_does_not_depend_on_where_the_unit_is_cut() -> None:
    for frame in ("*CCOC(=O)c1ccc(C(=O)O*)cc1", "*C(=O)c1ccc(C(=O)OCCO*)cc1", "*c1ccc(C(=O)OCCOC(=O)*)cc1"):
        assert [(r.polymer_class, r.monomers) for r in retro_monomers(frame)] == [
            ("polyester", (TEREPHTHALIC_ACID, ETHYLENE_GLYCOL))], frame
    assert [r.monomers for r in retro_monomers("*c1c(C)cc(O*)cc1C")] == [("Cc1cccc(C)c1O",)]


def test_retro_on_polymers_outside_smipoly() -> None:
    nylon_66 = {r.monomers: r.rule for r in retro_monomers("*NCCCCCCNC(=O)CCCCC(*)=O")}
    assert nylon_66 == {("O=C(O)CCCCC(=O)O", "NCCCCCCN"): "amide -> diacid + diamine"}
    kevlar = retro_monomers("*Nc1ccc(NC(=O)c2ccc(C(*)=O)cc2)cc1")
    assert [r.monomers for r in kevlar] == [(TEREPHTHALIC_ACID, "Nc1ccc(N)cc1")]
    peo = {r.rule: r.monomers for r in retro_monomers("*CCO*")}
    assert peo == {"ether -> epoxide (ring-opening)": ("C1CO1",), "ether -> diol (dehydration)": ("OCCO",)}
    assert [r.monomers for r in retro_monomers("*CC=CC*")] == [("C=CC=C",)]
    assert [r.monomers for r in retro_monomers("*C[C@H](*)c1ccccc1")] == [("C=Cc1ccccc1",)]
    bpa_pc = retro_monomers("*Oc1ccc(C(C)(C)c2ccc(OC(*)=O)cc2)cc1")
    assert [r.monomers for r in bpa_pc] == [("CC(C)(c1ccc(O)cc1)c1ccc(O)cc1", "[C-]#[O+]")]


def test_ring_opening_and_condensation_are_both_offered() -> None:
    nylon_6 = {r.rule: r.monomers for r in retro_monomers("*NCCCCCC(*)=O")}
    assert nylon_6 == {"amide -> amino acid": ("NCCCCCC(=O)O",),
                       "amide -> lactam (ring-opening)": ("O=C1CCCCCN1",)}
    succinate = {r.rule: r.monomers for r in retro_monomers("*OCCOC(=O)CCC(*)=O")}
    assert succinate == {
        "ester -> diacid + diol": ("O=C(O)CCC(=O)O", "OCCO"),
        "ester -> cyclic anhydride + epoxide (ring-opening copolymerization)": ("O=C1CCC(=O)O1", "C1CO1")}


def test_no_rule_gives_an_empty_list() -> None:
    assert retro_monomers("*O[Si](C)(C)*") == []  # PDMS: no siloxane rule
    assert retro_monomers("*CC(C)(C)C*") == []  # three-carbon backbone: not a vinyl polymer


def test_bad_polymers_raise_invalid_polymer_error() -> None:
    with pytest.raises(InvalidPolymerError, match="cannot parse"):
        retro_monomers("*CC(*")
    with pytest.raises(InvalidPolymerError, match="no '\\*' attachment point"):
        retro_monomers("CCO")


def test_invalid_monomer_smiles_is_named() -> None:
    with pytest.raises(PolyBenchError, match=r"invalid monomer SMILES 'C1CC': RDKit cannot parse it"):
        forward_polymer(["C1CC", ETHYLENE_GLYCOL], "polyester")
    with pytest.raises(PolyBenchError, match="invalid monomer SMILES 'xyz'"):
        monomer_classes("xyz")


def test_unknown_class_suggests_close_names() -> None:
    with pytest.raises(PolyBenchError, match=r"class 'polyesters'; did you mean polyester"):
        forward_polymer([ETHYLENE_GLYCOL, TEREPHTHALIC_ACID], "polyesters")
    with pytest.raises(PolyBenchError, match="known: polyolefin, polyester"):
        forward_polymer([ETHYLENE_GLYCOL], "vulcanised")


def test_incompatible_monomers_say_what_the_class_needs() -> None:
    needs = r"no polyamide can be made from OCCO \(classes: diol.*needs .*diCOOH \+ diamin"
    with pytest.raises(PolyBenchError, match=needs):
        forward_polymer([ETHYLENE_GLYCOL, TEREPHTHALIC_ACID], "polyamide")
    with pytest.raises(PolyBenchError, match="one or two monomer SMILES, got 3"):
        forward_polymer(["C=C", "C=CC", "C=CCC"], "polyolefin")


def test_monomer_classes() -> None:
    assert "diol" in monomer_classes(ETHYLENE_GLYCOL)
    assert "diCOOH" in monomer_classes(TEREPHTHALIC_ACID)
    assert {"vinyl", "styryl"} <= set(monomer_classes("C=Cc1ccccc1"))
    assert "diNCO" in monomer_classes("Cc1c(N=C=O)cccc1N=C=O")
    assert monomer_classes("CCCC") == []


def test_rule_table_is_well_formed() -> None:
    assert len({r.name for r in RETRO_RULES}) == len(RETRO_RULES)
    for rule in RETRO_RULES:
        assert rule.polymer_class in POLYMER_CLASSES
        assert rule.form in ("open", "joined", "ring")
        if rule.form == "ring":
            assert Chem.MolFromSmarts(rule.smarts) is not None
        else:
            assert rdChemReactions.ReactionFromSmarts(rule.smarts).GetNumReactantTemplates() == 1
        assert (rule.anchor != (0, 0)) == (rule.form == "joined"), rule.name
