"""Synthesis and design: propose a polymer meeting constraints (shortlist with find_polymers, then check
every constraint with the tools), pick a route, judge a route (forward synthesis)."""

from __future__ import annotations

from agents.schema import Answer, Constraint, PolymerRef, Task
from agents.solver.reasoner.common import canonical, describe, forward, group_counts, label_of, monomers_in
from agents.solver.reasoner.core import Final, Plan, ReasonerTools, call, num, options_of, say, sub_for
from kb.properties import get_property

MAX_CANDIDATES = 5  # shortlisted polymers checked in turn before giving up


def _check(c: Constraint, ref: PolymerRef, described, i: int, task: Task) -> Plan:
    """Check one constraint on a candidate with the tools; returns (meets, sentence)."""
    if c.type == "property_range":
        prop = get_property(c.property or "")
        unit = c.unit or prop.unit
        obs = yield call("check-constraint", f"Check requirement ({i}) on the candidate: its measured "
                         f"{c.kind or ''} {prop.name}.", "get_property_values",
                         {"polymer": ref.psmiles, "property": prop.name, "unit": unit,
                          **({"kind": c.kind} if c.kind else {})})
        rows = [r for r in obs.data.get("summary") or [] if c.kind in (None, r.get("kind"))] if obs.ok else []
        if not rows:
            return False, f"no visible {c.kind or ''} {prop.name} value to verify requirement ({i})"
        for r in rows:
            v = float(r["median"])
            if (c.min is None or v >= c.min) and (c.max is None or v <= c.max):
                return True, f"its {r['kind']} {prop.name} median is {num(v)} {unit}, within {c.describe()}"
        return False, f"its {prop.name} ({', '.join(num(r['median']) for r in rows)} {unit}) is outside {c.describe()}"
    if c.type in ("require_group", "forbid_group"):
        count = group_counts(described).get(c.group or "", 0) if described.ok else 0
        meets = (count > 0) == (c.type == "require_group")
        return meets, f"it has {count} {c.group} group{'s' if count != 1 else ''} per repeat unit"
    if c.type == "polymer_class":
        wanted = (c.value or "").strip().lower()
        classes = set(described.data.get("kb_classes") or []) if described.ok else set()
        backbone = described.data.get("polymer_class") if described.ok else None
        meets = wanted in classes or backbone == wanted
        return meets, (f"its SMiPoly class is {', '.join(sorted(classes)) or 'none'} and its backbone class "
                       f"{backbone or 'unknown'}")
    return False, f"{c.type} requirements cannot be checked"


def design_polymer(task: Task, tools: ReasonerTools) -> Plan:
    constraints = list(task.constraints)
    ranged = next((c for c in constraints if c.type == "property_range"), None)
    args = {"constraints": [c.model_dump(exclude_none=True) for c in constraints], "limit": 20,
            **({"rank_by": ranged.property} if ranged else {})}
    obs = yield call("select-monomers", "Shortlist KB polymers that meet every requirement.", "find_polymers", args)
    if not obs.ok or not obs.data.get("matches"):
        return Final(answer=None, steps=[say("compose", "No KB polymer meets every requirement.")],
                     note=obs.error or "no match")
    linear = [m for m in obs.data["matches"] if m["key"].count("*") == 2]  # a repeat unit with two ends
    for match in linear[:MAX_CANDIDATES]:
        ref = PolymerRef(label="candidate", psmiles=match["key"], name=match.get("name"))
        described = yield from describe(ref, skill="check-constraint")
        steps, ok = [], True
        for i, c in enumerate(constraints, 1):
            meets, why = yield from _check(c, ref, described, i, task)
            ok &= meets
            steps.append(say("check-constraint", f"Requirement ({i}), {c.describe()}: {why}.",
                             "met" if meets else "not met", sub_for(task, f"check_{i}"),
                             Answer(type="yes_no", yes=meets)))
            if not meets:
                break
        if ok:
            answer = Answer(type="polymer", polymer=match["key"])
            steps.append(say("compose", f"{label_of(ref)} {match['key']} meets every requirement.",
                             f"The answer is {match['key']}.", sub_for(task, "compose"), answer))
            return Final(answer=answer, steps=steps)
    return Final(answer=None, note="no shortlisted polymer passed every check")


def _route(text: str) -> tuple[list[str], str]:
    pair, _, rest = text.rpartition(", by ")
    return monomers_in(pair), rest.removesuffix(" polymerization").strip()


def route_for_polymer(task: Task, tools: ReasonerTools) -> Plan:
    ref = task.params.polymers[0]
    key = canonical(ref.psmiles)
    steps, hits = [], []
    for letter, text in options_of(task):
        mons, pclass = _route(text)
        units = yield from forward(mons, pclass, skill="judge-feasibility", why=f" (option {letter})")
        ok = key is not None and key in units
        steps.append(say("judge-feasibility", f"Option {letter}: {'gives' if ok else 'does not give'} "
                         f"{ref.psmiles}."))
        if ok:
            hits.append(letter)
    if len(hits) != 1:
        return Final(answer=None, steps=steps, note=f"{len(hits)} routes give the polymer")
    return Final(answer=Answer(type="choice", choice=hits[0]),
                 steps=[*steps, say("compose", f"Only option {hits[0]} makes {label_of(ref)}.",
                                    f"The answer is {hits[0]}.")])


def route_feasibility(task: Task, tools: ReasonerTools) -> Plan:
    p = task.params
    ref, mons, pclass = p.polymers[0], list(p.monomers), p.polymer_class or ""
    key = canonical(ref.psmiles)
    described = yield from describe(ref, skill="classify-polymer")
    classes = list(described.data.get("kb_classes") or []) if described.ok else []
    backbone = described.data.get("polymer_class") if described.ok else None
    own = classes or ([backbone] if backbone else [])
    class_ok = pclass in own
    pair_ok = False
    for c in dict.fromkeys([pclass, *own]):
        units = yield from forward(mons, c, skill="select-monomers")
        if key is not None and key in units:
            pair_ok = True
            break
    feasible = pair_ok and class_ok
    steps = [
        say("select-monomers", f"Forward synthesis {'does' if pair_ok else 'does not'} build {ref.psmiles} from "
            f"{' + '.join(mons)}.", None, sub_for(task, "monomers"), Answer(type="yes_no", yes=pair_ok)),
        say("classify-polymer", f"{label_of(ref)} is a {', '.join(own) or 'unknown-class'} polymer (SMiPoly / "
            f"backbone linkage); the route says {pclass}.", None, sub_for(task, "class"),
            Answer(type="yes_no", yes=class_ok)),
        say("judge-feasibility", "The route is feasible only when both hold.", "yes" if feasible else "no",
            sub_for(task, "feasible"), Answer(type="yes_no", yes=feasible)),
    ]
    return Final(answer=Answer(type="yes_no", yes=feasible), steps=steps)


PLANS = {"design_polymer": design_polymer, "route_for_polymer": route_for_polymer,
         "route_feasibility": route_feasibility}
