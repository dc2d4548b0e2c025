"""Input limits of every tool, as pydantic types: argument models refuse what would crash or stall a tool.

A language model's arguments are arbitrary text. RDKit work cannot be interrupted in-process, and some of
it is not even polynomial (ring perception of a 16-phenylene macrocycle takes seconds, of 30 hours; a
20,000-atom chain segfaults in MolToSmiles), so structures are bounded BEFORE RDKit sanitises them: at
most MAX_POLYMER_ATOMS atoms (the largest KB repeat unit has 290 heavy atoms) and no ring larger than
MAX_RING_ATOMS (checked on the unsanitised parse, whose SSSR is cheap). Text is bounded in characters,
must be encodable UTF-8 (no lone surrogates, no control characters), numbers must be finite, lists short. Each message
states the limit, so the model can fix its call. ToolArgs is the base of every tool's argument model.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints
from rdkit import Chem, RDLogger

RDLogger.DisableLog("rdApp.*")  # type: ignore[attr-defined]

MAX_POLYMER_CHARS = 1000  # the longest KB key has 651 characters, the longest KB name 223
MAX_POLYMER_ATOMS = 400
MAX_MONOMER_CHARS = 300  # SMiPoly monomers have at most 100 characters
MAX_MONOMER_ATOMS = 100  # forward synthesis of a 130-vinyl monomer took 33 s; 100 atoms < 1 s
MAX_FRAGMENT_CHARS = 200
MAX_FRAGMENT_ATOMS = 40
MAX_RECURSIVE_SMARTS = 4  # $(...) groups in a fragment: each is matched from every atom
MAX_RING_ATOMS = 40  # larger rings (macrocycles) make RDKit's ring perception exponential
MAX_WORD_CHARS = 100  # property, unit, class, group names and other short words
MAX_QUERY_CHARS = 300  # text search
MAX_SQL_CHARS = 4000
MAX_CONSTRAINTS = 20
MAX_POLYMER_ID = 2**63 - 1  # ids are BIGINT


class ToolArgs(BaseModel):
    """Base of the tools' argument models: unknown keys and non-finite numbers are refused."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


_SPACE = re.compile(r"\s")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")  # tab, newline, return are fine


def clean_text(text: str) -> str:
    """Text a tool can pass on: no lone surrogates (not UTF-8) and no control characters."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        bad_char = text[exc.start].encode("utf-8", "backslashreplace").decode()
        raise ValueError(f"character {exc.start} is a lone surrogate ({bad_char}), not valid UTF-8 text; "
                         "send plain text") from None
    bad = _CONTROL.search(text)
    if bad:
        raise ValueError(f"character {bad.start()} is the control character {bad.group()!r}; send plain text")
    return text


def plain_smiles(text: str) -> bool:
    """Whether text can be SMILES: ASCII without inner spaces. RDKit reads '*CC* x' and '*CC*\u00b2' as
    '*CC*' (it stops at a space and skips some non-ASCII), so other text must never reach it as SMILES."""
    core = text.strip()
    return core.isascii() and not _SPACE.search(core)


def smiles_only(text: str) -> str:
    """Refuse text that is not plain SMILES (see plain_smiles), saying which character is wrong."""
    core = text.strip()
    if core.isascii() and not _SPACE.search(core):
        return text
    for i, ch in enumerate(core):
        if not ch.isascii():
            raise ValueError(f"SMILES are ASCII text; character {i} ({ch!a}) is not")
        if ch.isspace():
            raise ValueError(f"SMILES contain no spaces; character {i} is one")
    return text


_ATOM_TOKEN = re.compile(r"\[[^\]]*\]|Br|Cl|[BCNOPSFIbcnops*]")  # every SMILES atom matches at least once


def checked_structure(text: str, max_atoms: int) -> str:
    """Refuse SMILES whose size or rings would make RDKit's work unbounded; other text passes unchanged."""
    clean_text(text)
    enough = min(MAX_RING_ATOMS, max_atoms)
    if len(text) <= enough or len(_ATOM_TOKEN.findall(text)) <= enough:
        return text  # too few atoms for either limit: no need to parse (most calls)
    mol = Chem.MolFromSmiles(text.strip(), sanitize=False) if text.strip() and plain_smiles(text) else None
    if mol is None:  # not SMILES (a name, or a syntax error the tool explains); nothing for RDKit to do
        return text
    if mol.GetNumAtoms() > max_atoms:
        raise ValueError(f"the structure has {mol.GetNumAtoms()} atoms; at most {max_atoms} are allowed "
                         "(give one repeat unit or monomer, not a chain of many)")
    largest = max((len(ring) for ring in Chem.GetSSSR(mol)), default=0)
    if largest > MAX_RING_ATOMS:
        raise ValueError(f"the structure has a {largest}-atom ring; rings of more than {MAX_RING_ATOMS} atoms "
                         "(macrocycles) are not supported")
    return text


def checked_fragment(text: str) -> str:
    """A fragment (SMILES or SMARTS) bounded in atoms and recursive SMARTS groups."""
    checked_structure(smiles_only(text), MAX_FRAGMENT_ATOMS)
    if text.count("$(") > MAX_RECURSIVE_SMARTS:
        raise ValueError(f"the fragment has {text.count('$(')} recursive SMARTS groups $(...); at most "
                         f"{MAX_RECURSIVE_SMARTS} are allowed")
    query = Chem.MolFromSmarts(text.strip()) if text.strip() else None
    if query is not None and query.GetNumAtoms() > MAX_FRAGMENT_ATOMS:
        raise ValueError(f"the fragment has {query.GetNumAtoms()} atoms; at most {MAX_FRAGMENT_ATOMS} are allowed")
    return text


def _text(max_chars: int, min_chars: int = 0) -> object:
    return StringConstraints(max_length=max_chars, min_length=min_chars)


Word = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_WORD_CHARS),
                 AfterValidator(clean_text)]  # "" is refused: omit an optional word instead
QueryText = Annotated[str, _text(MAX_QUERY_CHARS, 2), AfterValidator(clean_text)]
SQLText = Annotated[str, _text(MAX_SQL_CHARS), AfterValidator(clean_text)]
PolymerText = Annotated[str, _text(MAX_POLYMER_CHARS),
                        AfterValidator(lambda t: checked_structure(t, MAX_POLYMER_ATOMS))]
SmilesText = Annotated[str, _text(MAX_POLYMER_CHARS),
                       AfterValidator(lambda t: checked_structure(smiles_only(t), MAX_POLYMER_ATOMS))]
MonomerText = Annotated[str, _text(MAX_MONOMER_CHARS),
                        AfterValidator(lambda t: checked_structure(smiles_only(t), MAX_MONOMER_ATOMS))]
FragmentText = Annotated[str, _text(MAX_FRAGMENT_CHARS), AfterValidator(checked_fragment)]
PolymerId = Annotated[int, Field(ge=0, le=MAX_POLYMER_ID)]
PolymerRef = PolymerText | PolymerId  # a KB id, a repeat-unit SMILES or a KB name
