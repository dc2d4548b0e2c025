"""Text index with the real offline MiniLM on a small KB-style doc set (embedding is slow: keep it small)."""

from __future__ import annotations

import numpy as np
import pytest

from kb.errors import PolyBenchError
from kb.text_index import Embedder, TextDoc, TextIndex, expand_query

POLYMERS = [
    ("Poly(ethylene terephthalate)", "*CCOC(=O)c1ccc(C(*)=O)cc1", "ester, aromatic ring"),
    ("Poly(butylene terephthalate)", "*CCCCOC(=O)c1ccc(C(*)=O)cc1", "ester, aromatic ring"),
    ("Polystyrene", "*CC(*)c1ccccc1", "aromatic ring"),
    ("Poly(methyl methacrylate)", "*CC(*)(C)C(=O)OC", "ester"),
    ("Polyethylene", "*CC*", "none"),
    ("Poly(hexamethylene adipamide)", "*NCCCCCCNC(=O)CCCCC(*)=O", "amide"),
    ("Poly(bisphenol A carbonate)", "*Oc1ccc(C(C)(C)c2ccc(OC(*)=O)cc2)cc1", "carbonate, aromatic ring"),
    ("Polytetrafluoroethylene", "*C(F)(F)C(*)(F)F", "fluoro"),
    ("Poly(vinyl chloride)", "*CC(*)Cl", "chloro"),
    ("Poly(lactic acid)", "*OC(C)C(*)=O", "ester"),
    ("Poly(dimethylsiloxane)", "*O[Si](*)(C)C", "siloxane"),
    ("Poly(ethylene oxide)", "*CCO*", "ether"),
]
MONOMERS = ["ethane-1,2-diol (monomer, diol) OCCO", "terephthalic acid (monomer, diCOOH) O=C(O)c1ccc(C(=O)O)cc1",
            "ethenylbenzene (monomer, vinyl) C=Cc1ccccc1"]
PROPERTIES = [("tg", "glass transition temperature", "K"), ("tm", "melting temperature", "K"),
              ("density", "mass density of the amorphous polymer", "g/cm3"),
              ("thermal_conductivity", "thermal conductivity", "W/(m K)"),
              ("co2_permeability", "CO2 permeability through a dense membrane", "Barrer")]
# the same text shapes as kb.text_docs writes
DOCS = ([TextDoc(f"polymer:{i}", "polymer", f"{n}. polymer {s}; groups: {g}; measured: tg")
         for i, (n, s, g) in enumerate(POLYMERS)]
        + [TextDoc(f"monomer:{i}", "monomer", t) for i, t in enumerate(MONOMERS)]
        + [TextDoc(f"property:{p}", "property", f"{p.replace('_', ' ')}: {d} ({u})") for p, d, u in PROPERTIES])


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return Embedder()


@pytest.fixture(scope="module")
def index(embedder) -> TextIndex:
    return TextIndex.build(DOCS, embedder)


def test_embeddings_are_normalised_float32(embedder):
    vectors = embedder.embed(["polystyrene", "glass transition temperature"])
    assert vectors.dtype == np.float32 and vectors.shape == (2, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert embedder.embed([]).shape == (0, 384)


def test_pet_polyester_finds_poly_ethylene_terephthalate(index, embedder):
    hits = index.search("PET polyester", embedder, k=3, kinds={"polymer"})
    assert hits[0][0].text.startswith("Poly(ethylene terephthalate).")
    assert hits[0][1] > hits[1][1]
    # the plain model does not know the acronym; PET must still be among the first few
    plain = index.search("PET polyester", embedder, k=3, kinds={"polymer"}, expand_acronyms=False)
    assert "polymer:0" in {doc.doc_id for doc, _ in plain}


def test_acronyms_expand_only_as_whole_uppercase_words():
    assert expand_query("PET polyester") == "PET (poly(ethylene terephthalate)) polyester"
    assert expand_query("pet food, SPET") == "pet food, SPET"
    assert expand_query("PA66 or PA6") == "PA66 (nylon 6,6, poly(hexamethylene adipamide)) or PA6 (nylon 6, polycaprolactam)"


def test_glass_transition_temperature_finds_the_tg_property(index, embedder):
    hits = index.search("glass transition temperature", embedder, k=5)
    assert hits[0][0].doc_id == "property:tg"
    assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)


def test_kinds_filter(index, embedder):
    hits = index.search("styrene", embedder, k=50, kinds={"monomer", "property"})
    assert {doc.kind for doc, _ in hits} == {"monomer", "property"}
    assert len(hits) == len(MONOMERS) + len(PROPERTIES)
    assert index.search("styrene", embedder, k=1, kinds={"monomer"})[0][0].doc_id == "monomer:2"
    with pytest.raises(PolyBenchError, match="unknown doc kinds"):
        index.search("styrene", embedder, kinds={"solvent"})


def test_cache_makes_a_rebuild_embed_nothing(embedder, tmp_path):
    before = embedder.n_embedded
    calls: list[int] = []
    first = TextIndex.build(DOCS, embedder, cache_dir=tmp_path, progress=calls.append)
    assert embedder.n_embedded - before == len(DOCS) == sum(calls)
    calls.clear()
    second = TextIndex.build(DOCS, embedder, cache_dir=tmp_path, progress=calls.append)
    assert embedder.n_embedded - before == len(DOCS) and calls == []
    assert np.array_equal(first.vectors, second.vectors)
    extra = [*DOCS, TextDoc("polymer:99", "polymer", "Polyacrylonitrile. polymer *CC(*)C#N")]
    TextIndex.build(extra, embedder, cache_dir=tmp_path)
    assert embedder.n_embedded - before == len(DOCS) + 1


def test_save_load_round_trip(index, embedder, tmp_path):
    index.save(tmp_path / "text")
    loaded = TextIndex.load(tmp_path / "text")
    assert loaded.docs == index.docs
    query = "nylon polyamide"
    assert loaded.search(query, embedder, k=5) == index.search(query, embedder, k=5)


def test_bad_inputs_raise_typed_errors(embedder, tmp_path):
    with pytest.raises(PolyBenchError, match="kind"):
        TextDoc("x", "solvent", "water")
    with pytest.raises(PolyBenchError, match="duplicate"):
        TextIndex.build([DOCS[0], DOCS[0]], embedder)
    other = TextIndex(DOCS[:1], np.zeros((1, 384), dtype=np.float32), model_id="another-model")
    with pytest.raises(PolyBenchError, match="built with another-model"):
        other.search("x", embedder)
    with pytest.raises(PolyBenchError, match="no text index"):
        TextIndex.load(tmp_path / "missing")
