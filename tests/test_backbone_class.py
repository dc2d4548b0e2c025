"""kb.backbone_class on real polymers: the class follows the backbone linkages, not side groups."""

from __future__ import annotations

import pytest

from kb.backbone_class import LINKAGES, POLYMER_CLASSES, backbone_class, classify_backbone
from kb.repeat_unit import to_mol, to_repeat_unit

# name: (any writing of the unit, expected class, backbone linkages expected in the verdict)
KNOWN = {
    "PE": ("*CC*", "polyolefin", ()),
    "PS": ("*CC(*)c1ccccc1", "polyolefin", ()),
    "PMMA (side-chain ester)": ("*CC(*)(C)C(=O)OC", "polyolefin", ()),
    "PAN": ("*CC(*)C#N", "polyolefin", ()),
    "PVDF": ("*CC(*)(F)F", "polyolefin", ()),
    "PET": ("*OCCOC(=O)c1ccc(C(*)=O)cc1", "polyester", ("ester",)),
    "PET other frame": ("*C(=O)c1ccc(C(=O)OCCO*)cc1", "polyester", ("ester",)),
    "PLA": ("*OC(C)C(*)=O", "polyester", ("ester",)),
    "nylon-6": ("*NCCCCCC(*)=O", "polyamide", ("amide",)),
    "nylon-6,6": ("*NCCCCCCNC(=O)CCCCC(*)=O", "polyamide", ("amide",)),
    "Kapton (aromatic imide rings)": ("*c1ccc(Oc2ccc(N3C(=O)c4cc5c(cc4C3=O)C(=O)N(*)C5=O)cc2)cc1", "polyimide",
                                      ("imide", "ether")),
    "bisphenol A polycarbonate": ("*Oc1ccc(C(C)(C)c2ccc(OC(*)=O)cc2)cc1", "polycarbonate", ("carbonate",)),
    "MDI polyurethane": ("*OCCCCOC(=O)Nc1ccc(Cc2ccc(NC(*)=O)cc2)cc1", "polyurethane", ("urethane",)),
    "polyurea": ("*NC(=O)NCCCCCC*", "polyurea", ("urea",)),
    "PDMS": ("*O[Si](*)(C)C", "polysiloxane", ("siloxane",)),
    "PEO": ("*CCO*", "polyether", ("ether",)),
    "POM": ("*CO*", "polyether", ("ether",)),
    "PEEK (ether outranks ketone)": ("*Oc1ccc(Oc2ccc(C(=O)c3ccc(*)cc3)cc2)cc1", "polyether", ("ether", "ketone")),
    "PSU (sulfone outranks ether)": ("*Oc1ccc(S(=O)(=O)c2ccc(Oc3ccc(C(C)(C)c4ccc(*)cc4)cc3)cc2)cc1",
                                     "polysulfone", ("sulfone", "ether")),
    "PPS": ("*Sc1ccc(*)cc1", "polysulfide", ("thioether",)),
    "poly(p-phenylene)": ("*c1ccc(*)cc1", "polyarylene", ()),
    "aliphatic polyketone": ("*CCC(*)=O", "polyketone", ("ketone",)),
    "SMiPoly polyoxazolidone": ("*c1cccc(N2CC(COc3ccc(C(C)(C)c4ccc(OCC5CN(*)C(=O)O5)cc4)cc3)OC2=O)c1C",
                                "polyoxazolidone", ("oxazolidone", "ether")),
    "polyphosphazene": ("*N=P(*)(OC)OC", "polyphosphazene", ("phosphazene",)),
    "poly(thioester)": ("*CCCCSC(=O)CCCCC(=O)S*", "polyester", ("ester",)),
    "polythiophene (S only in the ring)": ("*c1ccc(*)s1", "polyarylene", ()),
    "polyaniline (leucoemeraldine)": ("*Nc1ccc(*)cc1", "polyamine", ("amine",)),
    "polyester with isocyanurate ring (not an imide)": (
        "*OCCn1c(=O)n(CCOC(=O)CCCCC(*)=O)c(=O)n(C)c1=O", "polyester", ("ester",)),
}


@pytest.mark.parametrize("name", sorted(KNOWN))
def test_known_polymer_classes(name: str) -> None:
    text, expected, linkages = KNOWN[name]
    unit = to_repeat_unit(text)
    verdict = classify_backbone(to_mol(unit.key), unit.status)
    assert verdict.polymer_class == expected, verdict.rule
    assert verdict.linkages == linkages
    assert expected in verdict.rule
    assert backbone_class(to_mol(unit.key), unit.status) == expected


def test_imide_is_not_also_reported_as_amide() -> None:
    ultem = "*Oc1ccc(cc1)C(C)(C)c1ccc(cc1)Oc1ccc2C(=O)N(C(=O)c2c1)c1cccc(c1)N1C(=O)c2ccc(*)cc2C1=O"
    unit = to_repeat_unit(ultem)
    verdict = classify_backbone(to_mol(unit.key), unit.status)
    assert verdict.polymer_class == "polyimide"
    assert "amide" not in verdict.linkages and "ether" in verdict.linkages


def test_network_entry_with_all_carbon_chain_is_polyolefin() -> None:
    # a SMiPoly vinyl copolymer entry with a dimethacrylate cross-link: 6 attachment points
    unit = to_repeat_unit("*CC(*)C[Si](CC(*)CC(C*)OC(=O)C(*)(C)C*)(c1ccccc1)c1ccccc1")
    assert unit.status == "multi_attachment"
    assert classify_backbone(to_mol(unit.key), unit.status).polymer_class == "polyolefin"


def test_small_molecule_has_no_class() -> None:
    verdict = classify_backbone(to_mol("CCO"), "no_attachment")
    assert verdict.polymer_class is None and "not a chain" in verdict.rule


def test_every_linkage_class_is_listed() -> None:
    assert {lk.polymer_class for lk in LINKAGES} <= set(POLYMER_CLASSES)
    assert all(lk.pattern is not None for lk in LINKAGES)
    smipoly = {"polyolefin", "polyester", "polyether", "polyamide", "polyimide", "polyurethane", "polyoxazolidone"}
    assert smipoly <= set(POLYMER_CLASSES)
