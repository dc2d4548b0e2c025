"""Structure tools: validate, describe and compare polymer repeat units, and find KB polymers by fragment.

kb.repeat_unit gives canonical keys and kb.features the descriptors and group counts; kb.backbone_class
gives the polymer class from the backbone linkages; tools.structure_index holds the per-KB fragment index.
Each tool takes the agent's KBView and a pydantic argument model and returns a pydantic result with
provenance; bad input raises ToolError with a message the model can act on.
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from rdkit import Chem, RDLogger

from kb.backbone_class import backbone_class, classify_backbone
from kb.errors import InvalidPolymerError
from kb.features import FEATURE_COLUMNS, GROUP_COLUMNS, features_of, fingerprint_of
from kb.repeat_unit import ONE_ATTACHMENT, to_mol, to_repeat_unit
from kb.structure_index import MEASURED_GROUPS, UNMEASURED
from tools.connections import connection, kb_version, measurements_table
from tools.errors import ToolError
from tools.kb_view import KBView
from tools.limits import FragmentText, PolymerRef, SmilesText, ToolArgs, Word
from tools.resolve import (
    HOW_TO,
    checked_property,
    kb_polymer,
    resolve_polymer,
    smipoly_classes,
    syntax_detail,
)
from tools.schema import Provenance
from tools.structure_index import structure_index

RDLogger.DisableLog("rdApp.*")  # type: ignore[attr-defined]
logger = logging.getLogger(__name__)

DESCRIBED_FEATURES = ("formula", "mw", "heavy_atoms", "rings", "aromatic_rings", "tpsa", "logp", "hbd", "hba",
                      "rotatable_bonds", "fraction_sp3", "heteroatoms", "halogens", "n_f", "n_cl", "n_br",
                      "backbone_atoms", "sidechain_atoms", "backbone_aromatic")
_GROUP_NAMES = {column: name for name, column in GROUP_COLUMNS.items()}
_DUMMY_SMARTS = re.compile(r"\[#0\]")
_PROPERTY_ROWS: dict[tuple, np.ndarray] = {}
SEARCH_SECONDS = 3.0  # fragment search time limit: a tool call must answer within seconds


# --- the tools ---------------------------------------------------------------------------------------

class ValidateArgs(ToolArgs):
    polymer: SmilesText = Field(description="repeat unit as SMILES / PSMILES with two * ends, e.g. *CC(*)c1ccccc1")


class DescribeArgs(ToolArgs):
    polymer: PolymerRef = Field(description="repeat-unit SMILES (two * ends), KB polymer id, or KB polymer name")


class CompareArgs(ToolArgs):
    polymer_a: PolymerRef = Field(description="first polymer: repeat-unit SMILES, KB id or KB name")
    polymer_b: PolymerRef = Field(description="second polymer: repeat-unit SMILES, KB id or KB name")


class SubstructureArgs(ToolArgs):
    fragment: FragmentText = Field(description="SMILES or SMARTS fragment; * matches any atom, e.g. C(=O)O, [Si]O[Si]")
    query_type: Literal["auto", "smiles", "smarts"] = Field(
        "auto", description="how to read the fragment; auto tries SMILES first, then SMARTS")
    with_property: Word | None = Field(None, description="only polymers with a visible value of this property")
    limit: int = Field(20, ge=1, le=200, description="maximum number of polymers returned")


class _Result(BaseModel):
    model_config = ConfigDict(extra="forbid")

    provenance: Provenance = Provenance()


class ValidationResult(_Result):
    valid: bool
    input: str
    key: str | None = None
    status: str | None = None
    n_attachments: int | None = None
    problem: str | None = None
    hint: str | None = None
    polymer_id: int | None = None
    name: str | None = None


class Description(_Result):
    key: str
    status: str
    polymer_id: int | None = None
    name: str | None = None
    features: dict[str, str | float | int | bool | None]
    groups: dict[str, int]
    polymer_class: str | None
    class_rule: str
    backbone_linkages: list[str]
    kb_classes: list[str] = []
    note: str | None = None


class FeatureDelta(BaseModel):
    a: float
    b: float
    delta: float


class Comparison(_Result):
    key_a: str
    key_b: str
    same_polymer: bool
    tanimoto: float
    groups_gained: dict[str, int]
    groups_lost: dict[str, int]
    feature_differences: dict[str, FeatureDelta]
    formula_a: str | None
    formula_b: str | None
    class_a: str | None
    class_b: str | None


class SubstructureHit(BaseModel):
    polymer_id: int
    key: str
    name: str | None
    split: str | None
    heavy_atoms: int
    measured: bool


class SubstructureHits(_Result):
    query: str
    hits: list[SubstructureHit]
    more_available: bool
    note: str | None = None


def validate_polymer(view: KBView | None, args: ValidateArgs) -> ValidationResult:
    """Check whether a string is a usable linear polymer repeat unit before using it anywhere else.

    Use it when a SMILES / PSMILES comes from a question or from your own design. Returns valid=True with
    the canonical key (the same for every way of writing the unit) and, when the KB has it, its id and
    name; otherwise valid=False with the problem (unparseable SMILES, one, three or more attachment
    points, several fragments, ...) and a hint how to write it.
    """
    text = args.polymer
    try:
        unit = to_repeat_unit(text)
    except InvalidPolymerError as exc:
        hint = _HINTS.get(exc.reason, HOW_TO)
        return ValidationResult(valid=False, input=text, problem=exc.reason + syntax_detail(text), hint=hint)
    result = ValidationResult(valid=unit.status == "linear", input=text, key=unit.key, status=unit.status,
                              n_attachments=unit.n_attachments)
    if unit.status == "multi_attachment":
        result.problem = (f"{unit.n_attachments} attachment points: a network, ladder or copolymer entry, "
                          "not one linear repeat unit")
        result.hint = "keep exactly two * for a linear polymer; " + HOW_TO
    elif unit.status == "no_attachment":
        result.problem = "no attachment point (*): a small molecule, not a repeat unit"
        result.hint = "mark the two bonding ends with *, e.g. styrene C=Cc1ccccc1 -> *CC(*)c1ccccc1"
    if view is not None:
        found = kb_polymer(view, unit)
        result.polymer_id, result.name = found.polymer_id, found.name
        result.provenance = _provenance(view, [found.polymer_id] if found.polymer_id else [])
    return result


_HINTS = {
    ONE_ATTACHMENT: "a repeat unit needs two * (where it bonds to the previous and next unit), e.g. *CC(*)C",
    "empty string": HOW_TO,
    "two attachment points bonded to each other": "put at least one atom between the two *; " + HOW_TO,
    "the two attachment bonds have different bond orders": "both * bonds must have the same order; " + HOW_TO,
}


def describe_polymer(view: KBView, args: DescribeArgs) -> Description:
    """Describe one repeat unit: composition, descriptors, functional groups, backbone and polymer class.

    Use it to answer structural questions (formula, repeat-unit molecular weight, rings, aromatic rings,
    TPSA, logP, H-bond donors/acceptors, rotatable bonds, halogens, backbone vs side-chain atoms) or to
    classify a polymer. The class comes from the linkages on the backbone path (e.g. an ester in the
    backbone -> polyester; PMMA's side-chain ester does not count) and `class_rule` says which rule
    decided. Also gives the KB id and name, and SMiPoly's class when the KB has the polymer.
    """
    found = resolve_polymer(view, args.polymer)
    unit = found.unit
    values = _features(unit.key)
    verdict = classify_backbone(to_mol(unit.key), unit.status)
    kb_classes = smipoly_classes(view, found.polymer_id) if found.polymer_id is not None else []
    groups = {_GROUP_NAMES[c]: int(v) for c, v in values.items() if c in _GROUP_NAMES and v}
    return Description(
        key=unit.key, status=unit.status, polymer_id=found.polymer_id, name=found.name,
        features={k: values[k] for k in DESCRIBED_FEATURES if k in FEATURE_COLUMNS}, groups=groups,
        polymer_class=verdict.polymer_class, class_rule=verdict.rule, backbone_linkages=list(verdict.linkages),
        kb_classes=kb_classes, note=found.note,
        provenance=_provenance(view, [found.polymer_id] if found.polymer_id else []))


_COMPARED = ("mw", "heavy_atoms", "rings", "aromatic_rings", "halogens", "heteroatoms", "backbone_atoms",
             "sidechain_atoms", "tpsa", "logp", "hbd", "hba", "rotatable_bonds", "fraction_sp3")


def compare_polymers(view: KBView, args: CompareArgs) -> Comparison:
    """Compare two repeat units: same polymer or not, groups gained/lost, feature changes, similarity.

    Use it for structure-effect questions (what changes from A to B) or to check whether two different
    writings are the same polymer. Returns both canonical keys, same_polymer, Morgan-fingerprint Tanimoto
    similarity, the functional groups B has more (gained) or fewer (lost) of than A, the descriptors that
    differ (MW, rings, aromatic rings, halogens, backbone atoms, TPSA, logP, ...; delta = B - A) and both
    backbone classes.
    """
    a, b = resolve_polymer(view, args.polymer_a), resolve_polymer(view, args.polymer_b)
    fa, fb = _features(a.unit.key), _features(b.unit.key)
    bits = [np.unpackbits(np.frombuffer(fingerprint_of(u.unit.key), dtype=np.uint8)) for u in (a, b)]
    union = int(np.count_nonzero(bits[0] | bits[1]))
    tanimoto = int(np.count_nonzero(bits[0] & bits[1])) / union if union else 1.0
    changes = {_GROUP_NAMES[c]: int(fb[c] or 0) - int(fa[c] or 0) for c in _GROUP_NAMES}
    deltas = {k: FeatureDelta(a=float(fa[k]), b=float(fb[k]), delta=round(float(fb[k]) - float(fa[k]), 4))
              for k in _COMPARED if fa[k] is not None and fb[k] is not None and fa[k] != fb[k]}
    ids = list(dict.fromkeys(p.polymer_id for p in (a, b) if p.polymer_id is not None))
    return Comparison(
        key_a=a.unit.key, key_b=b.unit.key, same_polymer=a.unit.key == b.unit.key, tanimoto=round(tanimoto, 4),
        groups_gained={k: v for k, v in changes.items() if v > 0},
        groups_lost={k: -v for k, v in changes.items() if v < 0}, feature_differences=deltas,
        formula_a=fa["formula"], formula_b=fb["formula"],
        class_a=backbone_class(to_mol(a.unit.key), a.unit.status),
        class_b=backbone_class(to_mol(b.unit.key), b.unit.status), provenance=_provenance(view, ids))


def substructure_search(view: KBView, args: SubstructureArgs) -> SubstructureHits:
    """Find KB polymers whose repeat unit contains a fragment (SMILES or SMARTS; * matches any atom).

    Use it to collect examples of a chemistry (e.g. 'C(=O)N' amides, '[Si]O[Si]' siloxanes,
    'FC(F)F' CF3 groups), optionally only polymers that have a visible value of one property. Fragments
    spanning two repeat units are found too. Returns at most `limit` polymers, measured ones first, then
    by size (heavy atoms), each with id, key, name and split; more_available says if there were more.
    """
    query, smarts = fragment_query(args.fragment, args.query_type)
    index = structure_index(view)
    visible = [g for s, g in MEASURED_GROUPS.items() if view.visible_split(s)]
    hidden = [g for s, g in MEASURED_GROUPS.items() if not view.visible_split(s)]
    candidates = _rows_with(view, checked_property(args.with_property).name) if args.with_property else None
    found = index.search(query, args.limit, visible, hidden + [UNMEASURED], candidates,
                         deadline=time.monotonic() + SEARCH_SECONDS)
    if found.stopped and not found.rows:
        raise ToolError(f"the fragment search ran past its {SEARCH_SECONDS:g} s limit before finding a match "
                        f"(a very unspecific or costly pattern such as {args.fragment[:40]!r}); give a more "
                        "specific fragment, e.g. with an element other than C, N, O or a ring")
    rows, more = found.rows, found.more or found.stopped
    hit_ids = [int(index.ids[r]) for r in rows]
    meta = {r[0]: r[1:] for r in connection(view).execute(
        "SELECT polymer_id, key, name, split, n_measurements FROM polymers WHERE polymer_id IN "
        "(SELECT unnest(?::BIGINT[]))", [hit_ids]).fetchall()}
    hits = [SubstructureHit(polymer_id=pid, key=meta[pid][0], name=meta[pid][1], split=meta[pid][2],
                            heavy_atoms=int(index.heavy[r]),
                            measured=meta[pid][3] > 0 and view.visible(pid, meta[pid][2]))
            for pid, r in zip(hit_ids, rows)]
    note = None if hits else "no KB polymer contains this fragment" + (
        f" and has a visible {args.with_property} value" if args.with_property else "")
    if found.stopped:
        note = (f"the search stopped at its {SEARCH_SECONDS:g} s limit: these are the best hits in the part "
                "of the KB it covered; a more specific fragment searches all of it")
    return SubstructureHits(query=smarts, hits=hits, more_available=more, note=note,
                            provenance=_provenance(view, hit_ids))


def _rows_with(view: KBView, prop: str) -> np.ndarray:
    """Index rows of the polymers with a visible value of `prop` (cached: a KB version never changes)."""
    key = (str(view.paths.db), kb_version(view), view.hidden_splits, prop)
    rows = _PROPERTY_ROWS.get(key)
    if rows is None:
        ids = [r[0] for r in connection(view).execute(
            f"SELECT DISTINCT polymer_id FROM {measurements_table(view)} WHERE property = ?", [prop]).fetchall()]
        rows = _PROPERTY_ROWS[key] = structure_index(view).rows_of(ids)
    return rows


def fragment_query(text: str, query_type: str = "auto") -> tuple[Chem.Mol, str]:
    """A substructure query from SMILES (aromaticity perceived, * = any atom) or SMARTS, and its SMARTS."""
    text = text.strip() if isinstance(text, str) else ""
    if not text:
        raise ToolError("empty fragment; give SMILES or SMARTS such as C(=O)O (ester) or c1ccccc1 (benzene)")
    if query_type in ("auto", "smiles"):
        mol = Chem.MolFromSmiles(text)
        if mol is not None:
            for atom in mol.GetAtoms():
                if atom.GetAtomicNum() == 0:
                    atom.SetIsotope(0)
                    atom.SetAtomMapNum(0)
            smarts = _DUMMY_SMARTS.sub("*", Chem.MolToSmarts(mol))
            return Chem.MolFromSmarts(smarts), smarts
        if query_type == "smiles":
            raise ToolError(f"fragment {text!r} is not valid SMILES{syntax_detail(text)}; "
                            "try query_type='smarts' or fix the SMILES")
    query = Chem.MolFromSmarts(text)
    if query is None:
        raise ToolError(f"fragment {text!r} is neither valid SMILES nor SMARTS{syntax_detail(text)}; "
                        "examples: C(=O)O, [Si]O[Si], c1ccccc1, [CX3](=O)[NX3], *C(F)(F)*")
    return query, text


def _features(key: str) -> dict[str, Any]:
    """kb.features of a canonical key; ToolError if RDKit cannot featurise it."""
    try:
        return dict(features_of(key))
    except InvalidPolymerError as exc:
        raise ToolError(f"cannot featurise {key!r}: {exc.reason}; {HOW_TO}") from None


def _provenance(view: KBView, polymer_ids: list[int], source_ids: list[str] | None = None) -> Provenance:
    return Provenance(polymer_ids=polymer_ids, source_ids=source_ids or [], kb_version=kb_version(view))

