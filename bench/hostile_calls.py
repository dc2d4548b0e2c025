"""Hostile tool calls, as a language model might send them: wrong types, sizes, unicode, NaN/inf, keys.

Used by tests/test_tool_fuzz.py (every case on the small KB) and bench/bench_tool_guard.py (counts and
time per tool on any KB, each tool in its own process so that a crash is counted, not fatal).
`hostile_calls(spec, good)` gives (label, raw arguments) for one tool: every argument replaced by every
hostile value, each required argument missing, unknown keys, whole inputs that are not an object, plus
cases aimed at the tool (500 constraints, a NaN bound, a 20,000-atom monomer, ...). Well-typed
non-text values the argument model accepts (None for an optional argument, a bool for a bool) are
valid calls and left out; accepted text is kept unless the argument is free text (a search query).
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from pydantic import BaseModel, ValidationError


def para_phenylene_ring(n: int) -> str:
    """A macrocycle of n para-phenylenes: RDKit's ring perception is exponential in n."""
    return "C%50" + "".join(f"c{i % 9 + 1}ccc(cc{i % 9 + 1})" for i in range(n)) + "C%50"


HOSTILE_TEXT: dict[str, str] = {
    "empty": "",
    "blank": "   ",
    "lone surrogate": "*CC(*)\ud800",
    "only a surrogate": "\udfff",
    "NUL": "*CC\x00*",
    "superscript digit": "\u00b2",
    "40 nines": "9" * 40,
    "negative id text": "-5",
    "20k-atom chain": "*" + "C" * 19998 + "*",
    "1 MB text": "x" * 1_000_000,
    "1 MB SMILES": "C" * 1_000_000,
    "2,000-atom chain": "*" + "C" * 1998 + "*",
    "500 stars": "*" * 500,
    "emoji": "\U0001f4a5" * 50,
    "right-to-left override": "\u202e*CC*",
    "terminal escapes": "\x1b[31m*CC*\x1b[0m",
    "sql injection": "x' OR '1'='1'; DROP TABLE polymers; --",
    "unbalanced SMILES": "*CC(*",
    "macrocycle of 24 phenylenes": para_phenylene_ring(24),
    "nested recursive SMARTS": "[$([$([$([$([$([$(*)])])])])])]",
    "800 ring closures": "C1" * 400 + "C1" * 400,
    "json text": '{"polymer": "*CC*"}',
}
HOSTILE_VALUES: dict[str, object] = {
    "null": None, "zero": 0, "minus one": -1, "2**70": 2**70, "-2**70": -(2**70), "1.5": 1.5,
    "NaN": math.nan, "inf": math.inf, "-inf": -math.inf, "1e308": 1e308, "true": True,
    "empty list": [], "empty object": {}, "list of 500": ["*CC*"] * 500, "object": {"a": 1},
    "nested list": [[["*CC*"]]],
}
WHOLE_INPUTS: dict[str, object] = {"null input": None, "number input": 5, "list input": [1, 2]}  # text: 1st argument
FREE_TEXT = {"query"}  # arguments where any short text is a valid call


def hostile_calls(args_model: type[BaseModel], good: dict) -> Iterator[tuple[str, object]]:
    """(label, raw input) of every hostile call built from one good argument set."""
    for field in args_model.model_fields:
        for label, value in {**HOSTILE_TEXT, **HOSTILE_VALUES}.items():
            raw = {**good, field: value}
            if _valid_call(args_model, raw, field, value):
                continue
            yield f"{field}={label}", raw
        for label, value in HOSTILE_TEXT.items():  # a hostile item inside a list argument
            if isinstance(good.get(field), list) and good[field] and isinstance(good[field][0], str):
                yield f"{field}[0]={label}", {**good, field: [value, *good[field][1:]]}
        if args_model.model_fields[field].is_required():
            yield f"missing {field}", {k: v for k, v in good.items() if k != field}
    yield "unknown key", {**good, "zzz": 1}
    yield "unknown surrogate key", {**good, "\ud800": 1}
    yield "1,000 unknown keys", {**good, **{f"k{i}": i for i in range(1000)}}
    if any(f.is_required() for f in args_model.model_fields.values()):  # else {} is a valid call
        yield "empty object", {}
    yield from WHOLE_INPUTS.items()


def _valid_call(model: type[BaseModel], raw: dict, field: str, value: object) -> bool:
    """Whether a replaced value makes a legitimate call (left out of the hostile set)."""
    try:
        model.model_validate(raw)
    except ValidationError:
        return False
    return not isinstance(value, str) or field in FREE_TEXT


PS, PMMA = "*CC(*)c1ccccc1", "*CC(*)(C)C(=O)OC"
GOOD_CALLS: dict[str, dict] = {  # one ordinary call per tool: the base of its hostile variants
    "validate_polymer": {"polymer": PS},
    "describe_polymer": {"polymer": PS},
    "compare_polymers": {"polymer_a": PS, "polymer_b": PMMA},
    "substructure_search": {"fragment": "C(=O)O", "limit": 5},
    "get_property_values": {"polymer": PS, "property": "tg", "unit": "K", "kind": "experimental", "limit": 5},
    "find_polymers": {"constraints": [{"type": "property_range", "property": "tg", "min": 300}], "rank_by": "tg",
                      "limit": 5},
    "property_info": {"name": "tg"},
    "polymer_record": {"polymer": PS},
    "similar_polymers": {"polymer": PS, "k": 3, "property": "tg", "kind": "experimental"},
    "text_search": {"query": "fluorinated polyimide", "k": 3},
    "forward_synthesis": {"monomers": ["C=Cc1ccccc1"], "polymer_class": "polyolefin"},
    "retro_synthesis": {"polymer": PS},
    "monomer_classes": {"monomer": "OCCO"},
    "sql": {"sql": "SELECT count(*) FROM polymers", "max_rows": 5},
    "estimate_property": {"polymer": PS, "property": "tg"},
}
_RANGE = {"type": "property_range", "property": "tg", "min": 300}
SPECIAL_CALLS: dict[str, dict[str, dict]] = {  # aimed at one tool
    "find_polymers": {
        "500 constraints": {"constraints": [_RANGE] * 500},
        "NaN bound": {"constraints": [{**_RANGE, "min": math.nan}]},
        "inf bound": {"constraints": [{**_RANGE, "max": math.inf}]},
        "min above max": {"constraints": [{**_RANGE, "max": 100}]},
        "unknown constraint type": {"constraints": [{"type": "magic", "value": "x"}]},
        "range without bounds": {"constraints": [{"type": "property_range", "property": "tg"}]},
        "surrogate in a group": {"constraints": [{"type": "require_group", "group": "est\ud800er"}]},
        "1 MB group": {"constraints": [{"type": "require_group", "group": "x" * 1_000_000}]},
        "unknown property": {"constraints": [{**_RANGE, "property": "warp_speed"}]},
        "unknown unit": {"constraints": [{**_RANGE, "unit": "parsec"}]},
    },
    "forward_synthesis": {
        "20k-atom monomer": {"monomers": ["C=C" + "C" * 20000], "polymer_class": "polyolefin"},
        "150-vinyl monomer": {"monomers": ["C=C" + "C(C=C)" * 150], "polymer_class": "polyolefin"},
        "three monomers": {"monomers": ["OCCO", "OCCO", "OCCO"], "polymer_class": "polyester"},
        "starred monomer": {"monomers": ["*CC*"], "polymer_class": "polyolefin"},
    },
    "sql": {
        "uninterruptible function": {"sql": "SELECT sum(x) FROM (SELECT unnest(range(300000000)) x)"},
        "data-modifying CTE": {"sql": "WITH x AS (DELETE FROM polymers RETURNING *) SELECT * FROM x"},
        "1 MB rows": {"sql": "SELECT repeat('x', 1000000) FROM polymers LIMIT 200"},
        # four-way, filtered on every row: ~4e13 rows on the small test KB, hours at any machine's speed (the
        # three-way product, 1.8e10 rows, was counted inside the time limit on an idle 2-core machine)
        "cross join": {"sql": "SELECT count(*) FROM polymers a, polymers b, polymers c, polymers d "
                              "WHERE a.polymer_id + b.polymer_id + c.polymer_id + d.polymer_id > 0"},
        "file read": {"sql": "SELECT * FROM read_csv('/etc/passwd')"},
        "3,000 parentheses": {"sql": "SELECT " + "(" * 3000 + "1" + ")" * 3000},
    },
    "substructure_search": {
        "60-atom fragment": {"fragment": "C" * 60},
        "many recursive SMARTS": {"fragment": "[$(C)][$(C)][$(C)][$(C)][$(C)][$(C)]"},
    },
}


def all_hostile_calls(tool: str, args_model: type[BaseModel]) -> list[tuple[str, object]]:
    """Every hostile call of one tool: the generic variants of its good call and its special cases."""
    return [*hostile_calls(args_model, GOOD_CALLS[tool]), *SPECIAL_CALLS.get(tool, {}).items()]


def refused(tool: str, answer: dict) -> bool:
    """Whether a tool's JSON answer refuses the call: ok=false, or validate_polymer's valid=false report."""
    if not answer.get("ok"):
        return True
    return tool == "validate_polymer" and answer.get("data", {}).get("valid") is False
