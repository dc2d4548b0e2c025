"""Resolving what a caller names a polymer or property: KB id, repeat-unit SMILES or KB name.

Every failure is a ToolError whose message says what was wrong and what would work (a did-you-mean,
the SMILES syntax slip, how to write a repeat unit), so the model can retry.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

import numpy as np
from rdkit import Chem, RDLogger

from kb.assemble import polymer_id_of
from kb.errors import InvalidPolymerError, UnknownPropertyError
from kb.properties import PropertyDef, get_property
from kb.repeat_unit import RepeatUnit, to_repeat_unit
from tools.connections import connection, first_row, kb_version
from tools.errors import ToolError
from tools.kb_view import KBView
from tools.limits import MAX_POLYMER_ID, plain_smiles

RDLogger.DisableLog("rdApp.*")  # type: ignore[attr-defined]

SMIPOLY_CLASSES = ("polyolefin", "polyester", "polyether", "polyamide", "polyimide", "polyurethane",
                   "polyoxazolidone")
_SMIPOLY: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {}
HOW_TO = ("write the repeat unit as SMILES with two * ends, like *CC(*)c1ccccc1 (polystyrene) "
          "or *CCOC(=O)c1ccc(cc1)C(*)=O (PET)")


@dataclass(frozen=True)
class ResolvedPolymer:
    """A polymer named by the caller: its canonical unit and, when the KB has it, its KB row."""

    unit: RepeatUnit
    polymer_id: int | None = None
    name: str | None = None
    split: str | None = None
    note: str | None = None


def checked_unit(text: str) -> RepeatUnit:
    """The canonical repeat unit of a string; ToolError with the reason and how to write it otherwise."""
    try:
        return to_repeat_unit(text)
    except InvalidPolymerError as exc:
        raise ToolError(f"invalid polymer {text!r}: {exc.reason}{syntax_detail(text)}; {HOW_TO}") from None


def resolve_polymer(view: KBView, text: str | int) -> ResolvedPolymer:
    """A polymer given as KB id, repeat-unit SMILES or KB name; ToolError naming what would work."""
    digits = str(text).strip()
    if isinstance(text, int) or (digits.isascii() and digits.isdigit()):
        pid = int(digits)
        row = first_row(view, "SELECT polymer_id, key, status, n_attachments, name, split FROM polymers "
                        "WHERE polymer_id = ?", [pid]) if 0 <= pid <= MAX_POLYMER_ID else None
        if row is None:
            raise ToolError(f"no polymer with id {text} in the KB; give a repeat-unit SMILES or a name instead")
        return ResolvedPolymer(RepeatUnit(row[1], row[2], row[3]), row[0], row[4], row[5])
    text = str(text).strip()
    if not plain_smiles(text):  # a name: RDKit would read '*CC* foo' or '*CC*\u00b2' as '*CC*'
        return _by_name(view, text, "not SMILES (non-ASCII characters or spaces)")
    try:
        unit = to_repeat_unit(text)
    except InvalidPolymerError as exc:
        return _by_name(view, text, exc.reason)
    return kb_polymer(view, unit)


def kb_polymer(view: KBView, unit: RepeatUnit) -> ResolvedPolymer:
    """A canonical unit with its KB id, name and split when the KB holds it (a primary-key look-up)."""
    row = first_row(view, "SELECT polymer_id, key, name, split FROM polymers WHERE polymer_id = ?",
                    [polymer_id_of(unit.key)])
    if row is None or row[1] != unit.key:
        return ResolvedPolymer(unit)
    return ResolvedPolymer(unit, row[0], row[2], row[3])


def _by_name(view: KBView, text: str, reason: str) -> ResolvedPolymer:
    """The one KB polymer a name refers to; ToolError listing them when the name fits several (no silent
    pick: they may differ, and the caller must choose), or with close names when it fits none."""
    rows = connection(view).execute("""
        SELECT p.polymer_id, p.key, p.status, p.n_attachments, p.name, p.split
        FROM polymers p WHERE p.polymer_id IN (SELECT polymer_id FROM polymer_names WHERE lower(name) = lower(?))
        ORDER BY p.n_measurements DESC, p.polymer_id LIMIT 6""", [text]).fetchall()
    if not rows:
        close = [r[0] for r in connection(view).execute(
            "SELECT name FROM (SELECT DISTINCT name FROM polymer_names) "
            "ORDER BY jaro_winkler_similarity(lower(name), lower(?)) DESC LIMIT 3", [text]).fetchall()]
        hint = f"; KB names close to it: {'; '.join(close)}" if close else ""
        raise ToolError(f"{text!r} is neither a valid repeat unit ({reason}{syntax_detail(text)}) nor a "
                        f"polymer name in the KB{hint}. Give a KB id, an exact name, or {HOW_TO}")
    if len(rows) > 1:
        listed = "; ".join(f"id {r[0]} {r[1]}" for r in rows[:5])
        more = " and more" if len(rows) > 5 else ""
        raise ToolError(f"the name {text!r} fits {len(rows) if len(rows) <= 5 else 'over 5'} KB polymers with "
                        f"different repeat units: {listed}{more}. Call again with the id or the SMILES of the "
                        "one you mean")
    pid, key, status, n_att, name, split = rows[0]
    return ResolvedPolymer(RepeatUnit(key, status, n_att), pid, name, split)


def syntax_detail(text: str) -> str:
    """A concrete SMILES syntax slip (brackets, parentheses, ring bonds), or '' when none is found."""
    if not isinstance(text, str) or Chem.MolFromSmiles(text.strip(), sanitize=False) is not None:
        return ""
    if text.count("(") != text.count(")"):
        return f" (unbalanced parentheses: {text.count('(')} '(' vs {text.count(')')} ')')"
    if text.count("[") != text.count("]"):
        return f" (unbalanced brackets: {text.count('[')} '[' vs {text.count(']')} ']')"
    bare = re.sub(r"\[[^\]]*\]", "", text)
    labels = re.findall(r"%\d\d|\d", bare)
    unclosed = sorted({lab for lab in labels if labels.count(lab) % 2})
    if unclosed:
        return f" (ring bond {', '.join(unclosed)} opened but never closed)"
    bad = [b for b in re.findall(r"\[([^\]]*)\]", text) if Chem.MolFromSmiles(f"[{b}]", sanitize=False) is None]
    return f" (cannot read the bracket atom [{bad[0]}])" if bad else ""


def checked_property(name: str) -> PropertyDef:
    """The registry entry of a property; ToolError with did-you-mean otherwise."""
    try:
        return get_property(name)
    except UnknownPropertyError as exc:
        raise ToolError(f"{exc}. Call property_info without a name to list every property.") from None


def close_names(name: str, names: list[str], n: int = 3) -> list[str]:
    """Close matches of a name among allowed names (for did-you-mean messages)."""
    return difflib.get_close_matches(name.lower(), names, n=n, cutoff=0.5)


def smipoly_classes(view: KBView, polymer_id: int) -> list[str]:
    """The SMiPoly polymerization classes that make a KB polymer ([] when SMiPoly did not generate it)."""
    ids, bits = _smipoly_table(view)
    pos = int(np.searchsorted(ids, polymer_id))
    if pos == len(ids) or ids[pos] != polymer_id:
        return []
    return [name for i, name in enumerate(SMIPOLY_CLASSES) if int(bits[pos]) >> i & 1]


def smipoly_ids(view: KBView, polymer_class: str) -> np.ndarray:
    """Sorted ids of the KB polymers SMiPoly generated with this class (empty for other classes)."""
    ids, bits = _smipoly_table(view)
    if polymer_class not in SMIPOLY_CLASSES:
        return ids[:0]
    return ids[(bits >> SMIPOLY_CLASSES.index(polymer_class)) & 1 == 1]


def _smipoly_table(view: KBView) -> tuple[np.ndarray, np.ndarray]:
    """(sorted polymer ids, class bit mask) of polymer_monomers, read once per KB version (~0.3 s)."""
    key = (str(view.paths.db), kb_version(view))
    if key not in _SMIPOLY:
        cases = " ".join(f"WHEN '{name}' THEN {1 << i}" for i, name in enumerate(SMIPOLY_CLASSES))
        got = connection(view).execute(
            f"SELECT polymer_id, bit_or(CASE polymer_class {cases} ELSE 0 END)::UTINYINT AS bits "
            "FROM polymer_monomers GROUP BY polymer_id ORDER BY polymer_id").fetchnumpy()
        _SMIPOLY[key] = (np.asarray(got["polymer_id"], dtype=np.int64), np.asarray(got["bits"], dtype=np.uint8))
    return _SMIPOLY[key]
