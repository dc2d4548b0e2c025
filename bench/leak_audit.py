"""Leak audit: no tool shows a hidden split's measured value, over EVERY measured polymer of that split.

    python -m bench.leak_audit --kb-dir .polybench/kb               # all measured test polymers, full KB
    python -m bench.leak_audit --kb-dir .polybench/kb --split dev   # the dev split (also hidden from test)

An agent evaluated on the test split gets KBView.for_split(kb, "test"). For each measured polymer P of the
audited split, its measured values H(P) (property, value) are read from the KB file directly; then P is
addressed through the LangChain tools of that view by every route: its id, its canonical key, a
rewritten SMILES of it (a random RDKit writing, seeded), and each of its names, in get_property_values
(for each property P has), polymer_record and similar_polymers; find_polymers with a range around each
hidden value; and SQL (measurements and property_summary by id, by key and by name). A leak is any
answer that shows a value (q, v) in H(P) for P or for a polymer it resolved to, or a SQL row of P's
measurements. Routes that do not resolve to P (a rewriting RDKit canonicalises elsewhere, an ambiguous
name) are counted, not leaks: they show nothing of P.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
from rdkit import Chem

from kb.config import KBPaths
from tools.kb_view import KBView
from tools.langchain_tools import build_tools


@dataclass
class AuditReport:
    """How many polymers and calls were audited, the leaks found, and routes that did not reach P."""

    split: str
    polymers: int = 0
    calls: Counter = field(default_factory=Counter)
    leaks: list[str] = field(default_factory=list)
    unresolved: Counter = field(default_factory=Counter)
    seconds: float = 0.0


def rewritten(key: str, seed: int = 7) -> str | None:
    """A different SMILES of the same repeat unit (a seeded random atom order), or None."""
    mol = Chem.MolFromSmiles(key)
    if mol is None:
        return None
    for text in Chem.MolToRandomSmilesVect(mol, 5, randomSeed=seed):
        if text != key:
            return text
    return None


def _same(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def _shown(hidden: dict[str, list[float]], prop: str, values: list[float]) -> bool:
    return any(_same(v, h) for v in values for h in hidden.get(prop, []))


def leak_audit(kb_dir: Path, split: str = "test", limit: int | None = None, view_split: str = "test") -> AuditReport:
    """Audit every measured polymer of `split` (first `limit` by id when given) through the tools of the
    view an agent evaluated on `view_split` gets (a `view_split` that shows `split` must find leaks)."""
    start = time.perf_counter()
    report = AuditReport(split)
    view = KBView.for_split(kb_dir, view_split)
    tools = {t.name: t for t in build_tools(view)}
    con = duckdb.connect(str(KBPaths(kb_dir).db), read_only=True)
    try:
        targets = con.execute("SELECT polymer_id, key FROM polymers WHERE split = ? AND n_measurements > 0 "
                              "ORDER BY polymer_id" + (f" LIMIT {int(limit)}" if limit else ""), [split]).fetchall()
        hidden: dict[int, dict[str, list[float]]] = {}
        for pid, prop, value in con.execute(
                "SELECT polymer_id, property, value FROM measurements WHERE polymer_id IN "
                "(SELECT polymer_id FROM polymers WHERE split = ? AND n_measurements > 0)", [split]).fetchall():
            hidden.setdefault(pid, {}).setdefault(prop, []).append(value)
        names = {}
        for pid, name in con.execute("SELECT DISTINCT polymer_id, name FROM polymer_names ORDER BY 1, 2").fetchall():
            names.setdefault(pid, []).append(name)
    finally:
        con.close()

    def call(tool: str, args: dict) -> dict:
        report.calls[tool] += 1
        return json.loads(tools[tool].invoke(args))

    for pid, key in targets:
        report.polymers += 1
        values = hidden.get(pid, {})
        routes = [("id", pid), ("key", key)] + [(f"name {n!r}", n) for n in names.get(pid, [])]
        text = rewritten(key)
        routes += [("rewritten SMILES", text)] if text else []
        for route, ref in routes:
            for prop in sorted(values):
                answer = call("get_property_values", {"polymer": ref, "property": prop})
                if answer["ok"]:
                    shown = [m["value"] for m in answer["data"]["values"]] + \
                            [s[k] for s in answer["data"]["summary"] for k in ("median", "min", "max")]
                    if _shown(values, prop, shown):
                        report.leaks.append(f"{pid} {prop} via get_property_values({route})")
                    if answer["data"]["polymer_id"] != pid:
                        report.unresolved[route.split(" ")[0]] += 1
            record = call("polymer_record", {"polymer": ref})
            if record["ok"]:
                for row in record["data"]["properties"]:
                    if _shown(values, row["property"], [row["value"], row["min_value"], row["max_value"]]):
                        report.leaks.append(f"{pid} {row['property']} via polymer_record({route})")
            elif "fits" in record.get("error", "") or "not in the KB" in record.get("error", ""):
                report.unresolved[route.split(" ")[0]] += 1
        for neighbour in _neighbours(call("similar_polymers", {"polymer": pid, "k": 10})):
            if neighbour["polymer_id"] == pid and neighbour["values"]:
                report.leaks.append(f"{pid} via similar_polymers (own values {neighbour['values']})")
        for prop, vs in sorted(values.items()):
            for v in sorted(set(vs))[:3]:
                width = 1e-6 * max(1.0, abs(v))
                found = call("find_polymers", {"constraints": [{"type": "property_range", "property": prop,
                                                               "min": v - width, "max": v + width}], "limit": 200})
                if found["ok"] and any(m["polymer_id"] == pid for m in found["data"]["matches"]):
                    report.leaks.append(f"{pid} {prop} via find_polymers")
        for route, sql in _sql_routes(pid, key, names.get(pid, [])):
            answer = call("sql", {"sql": sql, "max_rows": 200})
            if answer["ok"] and answer["data"]["rows"]:
                report.leaks.append(f"{pid} via sql({route}): {answer['data']['rows'][:2]}")
    report.seconds = round(time.perf_counter() - start, 1)
    return report


def _neighbours(answer: dict) -> list[dict]:
    return answer["data"]["neighbours"] if answer["ok"] else []


def _sql_routes(pid: int, key: str, names: list[str]) -> Iterator[tuple[str, str]]:
    """SQL that would show P's values if a hidden split's rows were visible."""
    quoted = key.replace("'", "''")
    yield "measurements by id", f"SELECT property, value FROM measurements WHERE polymer_id = {pid}"
    yield "summary by id", f"SELECT property, value FROM property_summary WHERE polymer_id = {pid}"
    yield "measurements by key", ("SELECT m.property, m.value FROM measurements m JOIN polymers p USING "
                                  f"(polymer_id) WHERE p.key = '{quoted}'")
    for name in names[:3]:
        text = name.replace("'", "''")
        yield "summary by name", ("SELECT s.property, s.value FROM property_summary s JOIN polymer_names n USING "
                                  f"(polymer_id) WHERE lower(n.name) = lower('{text}')")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kb-dir", type=Path, required=True)
    parser.add_argument("--split", choices=["test", "dev"], default="test")
    parser.add_argument("--limit", type=int, default=None, help="audit only the first N polymers (by id)")
    args = parser.parse_args()
    report = leak_audit(args.kb_dir, args.split, args.limit)
    print(f"leak audit of {args.kb_dir} ({args.split} split, test view): {report.polymers} measured polymers, "
          f"{sum(report.calls.values()):,} tool calls in {report.seconds:.0f} s")
    print("calls per tool: " + ", ".join(f"{k} {v:,}" for k, v in sorted(report.calls.items())))
    print("routes that did not reach the polymer (no value shown): " + (", ".join(
        f"{k} {v}" for k, v in sorted(report.unresolved.items())) or "none"))
    print(f"leaks: {len(report.leaks)}")
    for leak in report.leaks[:50]:
        print("  " + leak)


if __name__ == "__main__":
    main()
