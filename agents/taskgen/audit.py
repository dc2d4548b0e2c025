"""An independent re-audit of task golds: recompute every template's answer from the question-visible parts
(params, options, constraints) with the tools, RDKit and SMiPoly's reactions, never the template code.

    from agents.taskgen.audit import audit_tasks
    report = audit_tasks(KBView(kb_dir), tasks)   # {template: {"checked": n, "wrong": m, "examples": [...]}}

It imports nothing of agents.taskgen's templates, look-ups or tolerances: medians come from
tools.lookup, groups from tools.structure, ring counts, masses and backbones from RDKit directly, routes from
tools.synthesis.forward_polymer (SMiPoly's rules), and the chemistry rule that an ortho / peri diacid with a
diamine closes an imide is a SMARTS of its own. Used by tests/test_gold_audit.py on a real sample and by
bench/bench_baselines.py over the whole test split.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache

from rdkit import Chem
from rdkit.Chem import Descriptors, rdMolDescriptors

from agents.answers import answers_match, same_polymer
from agents.schema import Answer, Task
from kb.errors import PolyBenchError
from kb.properties import get_property
from kb.repeat_unit import to_repeat_unit
from kb.units import convert
from tools.kb_view import KBView
from tools.lookup import PropertyValuesArgs, get_property_values
from tools.structure import DescribeArgs, ValidateArgs, describe_polymer, validate_polymer
from tools.synthesis import forward_polymer

LETTERS = "ABCDEFGH"
_IMIDE_DIACID = [Chem.MolFromSmarts(s) for s in ("[OX2H1]C(=O)[#6]~[#6]C(=O)[OX2H1]",
                                                 "[OX2H1]C(=O)c1cccc2cccc(C(=O)[OX2H1])c12")]
Check = Callable[[KBView, Task], str | None]


def _texts(task: Task) -> list[str]:
    return [o.split(") ", 1)[-1] for o in task.options or []]


def _one_letter(task: Task, right: list[bool]) -> str | None:
    hits = [LETTERS[i] for i, ok in enumerate(right) if ok]
    return None if hits == [task.gold.choice] else f"right options {hits}, gold {task.gold.choice}"


@lru_cache(maxsize=200_000)
def _median(view: KBView, key: str, prop: str, kind: str) -> float | None:
    found = get_property_values(view, PropertyValuesArgs(polymer=key, property=prop, kind=kind))
    return next((s.median for s in found.summary if s.kind == kind), None)


def _medians(view: KBView, task: Task, prop: str | None = None) -> list[float]:
    p = task.params
    values = [_median(view, r.psmiles, prop or p.property, p.kind) for r in p.polymers]
    if any(v is None for v in values):
        raise LookupError(f"no {p.kind} {prop or p.property} value for a polymer of the question")
    return values


def _number(view: KBView, task: Task) -> str | None:
    (value,) = _medians(view, task)
    ok = answers_match(task.gold, Answer(type="number", number=value, unit=get_property(task.params.property).unit))
    return None if ok and abs(task.gold.number - value) <= 1e-4 * max(1.0, abs(value)) else f"median {value:.6g}"


def _value_choice(view: KBView, task: Task) -> str | None:
    (value,) = _medians(view, task)
    right = [answers_match(task.gold.model_copy(update={"type": "number", "choice": None, "number": value,
                                                         "unit": None, **_tolerance(task, value)}),
                           Answer(type="number", number=float(t.split(" ")[0]))) for t in _texts(task)]
    return _one_letter(task, right)


def _tolerance(task: Task, value: float) -> dict:
    """The scorer's tolerance for this property (as a number task of it would carry), read off a gold."""
    prop = get_property(task.params.property)
    return {"log_tolerance": 0.2} if prop.log_scale else {"tolerance": 1e-3 * abs(value) + 1e-12}


def _pair(view: KBView, task: Task) -> str | None:
    a, b = _medians(view, task)
    for q, v in zip(task.params.quoted_values, (a, b)):  # printed values are the medians, in their units
        shown = convert(q.value, q.unit, get_property(task.params.property).unit)
        if abs(shown - v) > 1e-3 * max(abs(v), 1e-12):
            return f"printed value {q.value} {q.unit} is not the median {v:.6g}"
    winner = "A" if (a > b) == (task.params.direction == "higher") else "B"
    return None if winner == task.gold.choice else f"medians {a:.4g}, {b:.4g}: {winner}"


def _ranking(view: KBView, task: Task) -> str | None:
    values = _medians(view, task)
    order = sorted(range(len(values)), key=lambda i: values[i], reverse=task.params.order == "descending")
    expected = Answer(type="ranking", ranking=[LETTERS[i] for i in order], order=task.params.order)
    return None if answers_match(task.gold, expected) and task.gold.order == task.params.order else "ranking"


def _threshold(view: KBView, task: Task) -> str | None:
    (value,) = _medians(view, task)
    shown = convert(value, get_property(task.params.property).unit, task.params.unit)
    yes = shown > task.params.threshold if task.params.direction == "higher" else shown < task.params.threshold
    return None if yes == task.gold.yes else f"{shown:.4g} {task.params.unit} vs {task.params.threshold}"


def _groups(view: KBView, key: str) -> dict[str, int]:
    return describe_polymer(view, DescribeArgs(polymer=key)).groups


def _filter(view: KBView, task: Task) -> str | None:
    labels = []
    for ref in task.params.polymers:
        ok = True
        for c in task.constraints:
            if c.type == "property_range":
                v = _median(view, ref.psmiles, c.property, c.kind)
                ok &= v is not None and (c.min is None or v >= c.min) and (c.max is None or v <= c.max)
            else:
                ok &= (_groups(view, ref.psmiles).get(c.group, 0) > 0) == (c.type == "require_group")
        if ok:
            labels.append(ref.label)
    return None if set(labels) == set(task.gold.items or []) else f"meet every constraint: {labels}"


def _gas(view: KBView, task: Task) -> str | None:
    first, second = (f"perm_{g.lower()}" for g in task.params.gases)
    pa, pb = _medians(view, task, first), _medians(view, task, second)
    above = [i for i, p in enumerate(pa) if p > task.params.threshold]
    best = max(above, key=lambda i: pa[i] / pb[i]) if above else None
    return None if best is not None and LETTERS[best] == task.gold.choice else f"most selective above: {best}"


def _structure_change(view: KBView, task: Task) -> str | None:
    a, b = _medians(view, task)
    word = "increases" if b > a else "decreases"
    return _one_letter(task, [word in t for t in _texts(task)])


def _mol(key: str) -> Chem.Mol:
    return Chem.MolFromSmiles(key)


def _aromatic_rings(view: KBView, task: Task) -> str | None:
    n = rdMolDescriptors.CalcNumAromaticRings(_mol(task.params.polymers[0].psmiles)) * (task.params.repeat_units or 1)
    return None if n == task.gold.number else f"RDKit counts {n}"


def _mass(view: KBView, task: Task) -> str | None:
    mw = Descriptors.MolWt(_mol(task.params.polymers[0].psmiles))  # the * dummies weigh 0
    return None if abs(mw - task.gold.number) <= 0.05 else f"RDKit mass {mw:.2f}"


def backbone_count(key: str) -> int:
    """Atoms on some simple star-to-star path: joined to a node T tied to both stars, an atom has two
    vertex-disjoint paths to T (Menger; networkx's local node connectivity), independent of kb.features."""
    import networkx as nx
    from networkx.algorithms.connectivity import local_node_connectivity

    mol = _mol(key)
    graph = nx.Graph([(b.GetBeginAtomIdx(), b.GetEndAtomIdx()) for b in mol.GetBonds()])
    stars = [a.GetIdx() for a in mol.GetAtoms() if a.GetAtomicNum() == 0]
    graph.add_edges_from(("T", s) for s in stars)
    return sum(local_node_connectivity(graph, v, "T") >= 2 for v in graph if v != "T" and v not in stars)


def _backbone(view: KBView, task: Task) -> str | None:
    n = backbone_count(task.params.polymers[0].psmiles)
    return None if n == task.gold.number else f"atoms on a simple star-to-star path: {n}"


def _more_rings(view: KBView, task: Task) -> str | None:
    a, b = (rdMolDescriptors.CalcNumAromaticRings(_mol(r.psmiles)) for r in task.params.polymers)
    return None if (a > b) == task.gold.yes else f"{a} vs {b}"


def _linkage(view: KBView, task: Task) -> str | None:
    groups = _groups(view, task.params.polymers[0].psmiles)
    return _one_letter(task, [groups.get(t.replace(" ", "_"), 0) > 0 for t in _texts(task)])


def _valid(view: KBView, task: Task) -> str | None:
    result = validate_polymer(view, ValidateArgs(polymer=task.params.shown_smiles))
    ok = result.valid and result.status == "linear"
    return None if ok == task.gold.yes else f"validate says {ok}"


@lru_cache(maxsize=50_000)
def _made(monomers: tuple[str, ...], pclass: str) -> frozenset[str]:
    """Keys SMiPoly's reactions make from these monomers by this class; none when chemistry says imide."""
    if pclass == "polyamide" and any(Chem.MolFromSmiles(m) is not None and Chem.MolFromSmiles(m).HasSubstructMatch(q)
                                     for m in monomers for q in _IMIDE_DIACID):
        return frozenset()
    try:
        return frozenset(to_repeat_unit(u).key for u in forward_polymer(list(monomers), pclass))
    except PolyBenchError:
        return frozenset()


def _pair_of(text: str) -> tuple[str, ...]:
    """The monomer SMILES of an option 'name (SMILES) + SMILES' or 'name (SMILES) alone'."""
    parts = text.removesuffix(" alone").split(" + ")
    return tuple(p[p.rindex(" (") + 2:-1] if p.endswith(")") and " (" in p else p for p in parts)


def _key_of_option(text: str) -> str:
    return text[text.rindex(" (") + 2:-1] if text.endswith(")") and " (" in text else text


def _classes(view: KBView, task: Task) -> str | None:
    mons = tuple(task.params.monomers)
    return _one_letter(task, [bool(_made(mons, t)) for t in _texts(task)])


def _product(view: KBView, task: Task) -> str | None:
    mons = tuple(task.params.monomers)
    made = set().union(*(_made(mons, c) for c in _SMIPOLY_CLASSES))
    return _one_letter(task, [to_repeat_unit(r.psmiles).key in made for r in task.params.polymers])


def _monomers(view: KBView, task: Task) -> str | None:
    key = to_repeat_unit(task.params.polymers[0].psmiles).key
    return _one_letter(task, [any(key in _made(_pair_of(t), c) for c in _SMIPOLY_CLASSES) for t in _texts(task)])


def _route(view: KBView, task: Task) -> str | None:
    key = to_repeat_unit(task.params.polymers[0].psmiles).key
    right = []
    for t in _texts(task):
        pair, _, pclass = t.rpartition(", by ")
        right.append(key in _made(_pair_of(pair), pclass.removesuffix(" polymerization")))
    return _one_letter(task, right)


def _route_feasible(view: KBView, task: Task) -> str | None:
    key = to_repeat_unit(task.params.polymers[0].psmiles).key
    ok = key in _made(tuple(task.params.monomers), task.params.polymer_class)
    return None if ok == task.gold.yes else f"SMiPoly route gives it: {ok}"


_OPTION_GROUP = {"cyclic": "imide", "2-oxazolidone": "oxazolidone"}  # first word of an option -> group name


def _linkage_formed(view: KBView, task: Task) -> str | None:
    """The gold linkage is in a product SMiPoly makes from the monomers; no distractor is in any of them."""
    products = sorted({k for c in _SMIPOLY_CLASSES for k in _made(tuple(task.params.monomers), c)})
    if not products:
        return "no SMiPoly product"
    described = [describe_polymer(view, DescribeArgs(polymer=p)) for p in products]

    def present(text: str) -> bool:
        first = text.split(" ", 1)[0]
        name = _OPTION_GROUP.get(first, first)
        if name == "C-C":  # an all-carbon backbone: no linkage along the chain
            return any(not d.backbone_linkages for d in described)
        return any(d.groups.get(name, 0) > 0 for d in described)

    return _one_letter(task, [present(t) for t in _texts(task)])


_RELATIONS = {
    "thermal_diffusivity": lambda k, rho, cp: k / (rho * cp) * 1e3, "bulk_modulus": lambda c: 1 / c,
    "compressibility": lambda b: 1 / b, "isentropic_bulk_modulus": lambda c: 1 / c,
    "linear_expansion": lambda v: v / 3, "heat_capacity_ratio": lambda cp, cv: cp / cv,
    "specific_volume": lambda rho: 1 / rho, "solubility_parameter": lambda ced: ced ** 0.5,
    "optical_dielectric": lambda n: n ** 2, "ideal_chain_r2": lambda rg: 6 * rg ** 2,
}


def _relation(view: KBView, task: Task) -> str | None:
    asked, values = task.params.asked or "", [q.value for q in task.params.quoted_values]
    if asked == "molar_volume":
        expected = Descriptors.MolWt(_mol(task.params.polymers[0].psmiles)) / values[0]
    elif asked.startswith("permeability_"):
        expected = values[0] * values[1] * 1e10
    elif asked.startswith("diffusivity_"):
        expected = values[0] * 1e-10 / values[1]
    elif asked.startswith("selectivity_"):
        expected = values[0] / values[1]
    else:
        expected = _RELATIONS[asked](*values)
    ok = math.isclose(expected, task.gold.number, rel_tol=0.01)
    return None if ok else f"definition gives {expected:.4g}"


def _design(view: KBView, task: Task) -> str | None:
    key = task.gold.polymer
    for c in task.constraints:
        if c.type == "property_range":
            v = _median(view, key, c.property, c.kind)
            low, high = (convert(b, c.unit, get_property(c.property).unit) if b is not None else None
                         for b in (c.min, c.max))
            if v is None or (low is not None and v < low) or (high is not None and v > high):
                return f"{c.property} {v} outside the range"
        elif c.type in ("require_group", "forbid_group"):
            if (_groups(view, key).get(c.group, 0) > 0) != (c.type == "require_group"):
                return f"group {c.group}"
        elif c.type == "polymer_class":
            described = describe_polymer(view, DescribeArgs(polymer=key))
            if c.value not in described.kb_classes and c.value != described.polymer_class:
                return f"class {c.value}"
    if any(key in s.question for s in task.sub_questions) or not same_polymer(key, task.sub_questions[-1].gold.polymer):
        return "a sub-question names the answer"
    return None


_SMIPOLY_CLASSES = ("polyolefin", "polyester", "polyether", "polyamide", "polyimide", "polyurethane",
                    "polyoxazolidone")
CHECKS: dict[str, Check] = {
    "property_value": _number, "property_value_stepwise": _number, "property_value_choice": _value_choice,
    "pair_higher": _pair, "pair_higher_stepwise": _pair, "pair_higher_units": _pair, "rank_by_property": _ranking,
    "unit_threshold": _threshold, "constraint_filter": _filter, "gas_selectivity_tradeoff": _gas,
    "structure_change_effect": _structure_change, "aromatic_ring_count": _aromatic_rings,
    "repeat_unit_weight": _mass, "backbone_atoms": _backbone, "more_aromatic_rings": _more_rings,
    "linkage_present": _linkage, "valid_repeat_unit": _valid, "polymerization_class": _classes,
    "polymer_from_monomers": _product, "monomers_for_polymer": _monomers, "route_for_polymer": _route,
    "route_feasibility": _route_feasible, "reaction_linkage": _linkage_formed, "property_definition": _relation,
    "design_polymer": _design,
}


def audit_task(view: KBView, task: Task) -> str | None:
    """Why the task's gold is wrong by the independent recomputation, or None when it holds."""
    check = CHECKS.get(task.template)
    if check is None:
        return f"no audit for template {task.template}"
    try:
        return check(view, task)
    except (LookupError, PolyBenchError, ValueError, KeyError) as exc:
        return f"cannot recompute: {exc}"


def audit_tasks(view: KBView, tasks: list[Task]) -> dict[str, dict]:
    """Per template: tasks checked, golds found wrong and up to 5 examples (task id: reason)."""
    report: dict[str, dict] = {}
    for task in tasks:
        entry = report.setdefault(task.template, {"checked": 0, "wrong": 0, "examples": []})
        entry["checked"] += 1
        problem = audit_task(view, task)
        if problem is not None:
            entry["wrong"] += 1
            if len(entry["examples"]) < 5:
                entry["examples"].append(f"{task.id}: {problem}")
    return dict(sorted(report.items()))
