"""Category 1, structural understanding: linkages, ring counts, repeat-unit weight, backbone, validity."""

from __future__ import annotations

import numpy as np

from agents.schema import Answer, SubQuestion, Task
from agents.taskgen.base import Draw, Rejected, TemplateContext, make_task, shuffled_choice
from agents.taskgen.registry import register
from kb.features import FUNCTIONAL_GROUPS, GROUP_COLUMNS

# Groups a question may ask about (element counts and generic rings are asked by other templates).
LINKAGES = [g for g in FUNCTIONAL_GROUPS if g not in {"fluoro", "chloro", "bromo", "aromatic_ring", "phenyl"}]


def _linear_ids(ctx: TemplateContext) -> np.ndarray:
    polymers = ctx.pools.polymers
    return polymers.index[polymers["status"] == "linear"].to_numpy()


def _pick(ctx: TemplateContext, rng: np.random.Generator, n: int = 1) -> list[int] | Rejected:
    ids = _linear_ids(ctx)
    if len(ids) < n:
        return Rejected("not enough linear polymers in the split")
    return [int(i) for i in rng.choice(ids, size=n, replace=False)]


class _Base:
    category = "structural_understanding"
    version = "1"

    def check(self, ctx: TemplateContext, task: Task) -> str | None:
        return None

    def compose_from_subs(self, task: Task) -> Answer | None:
        return None


@register
class LinkagePresent(_Base):
    """Which one of four linkages / groups does the repeat unit contain? (exactly one is present)."""

    name = "linkage_present"

    def sample(self, ctx, rng):
        picked = _pick(ctx, rng)
        if isinstance(picked, Rejected):
            return picked
        row = ctx.pools.polymers.loc[picked[0]]
        present = [g for g in LINKAGES if row[GROUP_COLUMNS[g]] > 0]
        absent = [g for g in LINKAGES if row[GROUP_COLUMNS[g]] == 0]
        if not present or len(absent) < 3:
            return Rejected("no linkage present or too few absent ones")
        correct = present[int(rng.integers(len(present)))]
        distractors = [absent[i] for i in rng.choice(len(absent), size=3, replace=False)]
        return Draw(picked, {"correct": correct, "distractors": distractors, "seed": int(rng.integers(1 << 30))})

    def compose(self, ctx, draw):
        pid = draw.polymer_ids[0]
        rng = np.random.default_rng(draw.params["seed"])
        options, letter = shuffled_choice(rng, draw.params["correct"].replace("_", " "),
                                          [d.replace("_", " ") for d in draw.params["distractors"]])
        question = (f"Which of these linkages or functional groups is present in the repeat unit of "
                    f"{ctx.pools.display_name(pid)}? Exactly one option is present.")
        return make_task(self, ctx, difficulty=1, question=question, gold=Answer(type="choice", choice=letter),
                         options=options, polymer_ids=[pid])

    def check(self, ctx, task):
        row = ctx.pools.polymers.loc[task.polymer_ids[0]]
        present = [o for o in task.options or [] if row[GROUP_COLUMNS[o.split(") ", 1)[1].replace(" ", "_")]] > 0]
        return None if len(present) == 1 else f"{len(present)} options are present"


@register
class AromaticRingCount(_Base):
    """How many aromatic rings does one repeat unit contain?"""

    name = "aromatic_ring_count"

    def sample(self, ctx, rng):
        picked = _pick(ctx, rng)
        return picked if isinstance(picked, Rejected) else Draw(picked)

    def compose(self, ctx, draw):
        pid = draw.polymer_ids[0]
        n = int(ctx.pools.polymers.loc[pid, "aromatic_rings"])
        question = f"How many aromatic rings are in one repeat unit of {ctx.pools.display_name(pid)}?"
        return make_task(self, ctx, difficulty=1, question=question,
                         gold=Answer(type="number", number=float(n), tolerance=0.0), polymer_ids=[pid])


@register
class RepeatUnitWeight(_Base):
    """The molar mass of one repeat unit (g/mol), within 0.5 g/mol."""

    name = "repeat_unit_weight"

    def sample(self, ctx, rng):
        picked = _pick(ctx, rng)
        return picked if isinstance(picked, Rejected) else Draw(picked)

    def compose(self, ctx, draw):
        pid = draw.polymer_ids[0]
        row = ctx.pools.polymers.loc[pid]
        question = (f"What is the molar mass of one repeat unit of {ctx.pools.display_name(pid)} in g/mol "
                    f"(end groups excluded)?")
        subs = [
            SubQuestion(id="formula", question="What is the molecular formula of the repeat unit?",
                        skill="count-features", gold=Answer(type="set", items=[str(row["formula"])])),
            SubQuestion(id="mass", question="Sum the atomic masses of that formula (g/mol).", skill="compose",
                        gold=Answer(type="number", number=round(float(row["mw"]), 2), unit="g/mol", tolerance=0.5),
                        depends_on=["formula"]),
        ]
        return make_task(self, ctx, difficulty=3, question=question, sub_questions=subs,
                         gold=Answer(type="number", number=round(float(row["mw"]), 2), unit="g/mol", tolerance=0.5),
                         composition="the repeat-unit mass is the formula mass", polymer_ids=[pid])

    def compose_from_subs(self, task):
        return task.sub_questions[-1].gold


@register
class BackboneAtoms(_Base):
    """How many heavy atoms lie on the backbone (the path between the two attachment points, rings included)?"""

    name = "backbone_atoms"

    def sample(self, ctx, rng):
        picked = _pick(ctx, rng)
        if isinstance(picked, Rejected):
            return picked
        if ctx.pools.polymers.loc[picked[0], "sidechain_atoms"] == 0:
            return Rejected("no side chain: the question would be trivial")
        return Draw(picked)

    def compose(self, ctx, draw):
        pid = draw.polymer_ids[0]
        row = ctx.pools.polymers.loc[pid]
        question = (f"In the repeat unit of {ctx.pools.display_name(pid)}, how many heavy atoms are in the "
                    f"backbone (on the path between the two * ends, counting every atom of a ring the path "
                    f"passes through) rather than in side chains?")
        return make_task(self, ctx, difficulty=2, question=question,
                         gold=Answer(type="number", number=float(row["backbone_atoms"]), tolerance=0.0),
                         polymer_ids=[pid])


@register
class MoreAromaticRings(_Base):
    """Does polymer A have more aromatic rings per repeat unit than polymer B? (two counts, then compare)."""

    name = "more_aromatic_rings"

    def sample(self, ctx, rng):
        picked = _pick(ctx, rng, 2)
        if isinstance(picked, Rejected):
            return picked
        a, b = (int(ctx.pools.polymers.loc[p, "aromatic_rings"]) for p in picked)
        if a == b:
            return Rejected("equal counts")
        return Draw(picked)

    def compose(self, ctx, draw):
        a, b = draw.polymer_ids
        na, nb = (int(ctx.pools.polymers.loc[p, "aromatic_rings"]) for p in (a, b))
        subs = [
            SubQuestion(id="count_a", question=f"How many aromatic rings are in one repeat unit of A?",
                        skill="count-features", gold=Answer(type="number", number=float(na), tolerance=0.0)),
            SubQuestion(id="count_b", question=f"How many aromatic rings are in one repeat unit of B?",
                        skill="count-features", gold=Answer(type="number", number=float(nb), tolerance=0.0)),
            SubQuestion(id="compare", question="Is the count of A larger than the count of B?", skill="compare",
                        gold=Answer(type="yes_no", yes=na > nb), depends_on=["count_a", "count_b"]),
        ]
        question = (f"Polymer A is {ctx.pools.display_name(a)}; polymer B is {ctx.pools.display_name(b)}. "
                    f"Does A have more aromatic rings per repeat unit than B?")
        return make_task(self, ctx, difficulty=3, question=question, gold=Answer(type="yes_no", yes=na > nb),
                         sub_questions=subs, composition="yes when count(A) > count(B)", polymer_ids=[a, b])

    def compose_from_subs(self, task):
        na, nb = task.sub_questions[0].gold.number, task.sub_questions[1].gold.number
        return Answer(type="yes_no", yes=bool(na > nb))
