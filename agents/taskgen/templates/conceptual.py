"""Category 2, conceptual knowledge: polymerization classes, reaction linkages, monomers and products.

Grounded in the split's SMiPoly links (which monomer pair makes which polymer by which class) and SMiPoly's
pairing table (which monomer classes each class combines), never free text; the look-ups are in
agents.taskgen.links. Property definitions applied to numbers are in property_relations.
"""

from __future__ import annotations

import numpy as np

from agents.schema import Answer, SubQuestion, Task, TaskParams
from agents.taskgen.base import (
    LETTERS,
    Draw,
    Rejected,
    TemplateContext,
    TemplateDefaults,
    labelled_ids,
    lettered,
    make_task,
    one_correct,
    polymer_refs,
    shuffled_choice,
)
from agents.taskgen.links import (
    LINKAGE_OF_TEXT,
    LINKAGE_TEXT,
    ROLE_WORDS,
    SMIPOLY_SOURCE,
    LinkTable,
    group_count,
    link_table,
)
from agents.taskgen.registry import register
from kb.features import GROUP_COLUMNS
from tools.synthesis import POLYMER_CLASSES


class _Base(TemplateDefaults):
    category = "conceptual_knowledge"

    def compose_from_subs(self, task: Task) -> Answer | None:
        return task.sub_questions[-1].gold if task.sub_questions else None


def _linked_row(ctx: TemplateContext, rng: np.random.Generator) -> tuple[LinkTable, int] | Rejected:
    table = link_table(ctx.pools)
    if not table.classes:
        return Rejected("no SMiPoly links in the split")
    r = table.pick(rng)
    return (table, r) if table.roles[r] is not None else Rejected("monomer classes fit no pairing of the class")


@register
class PolymerizationClass(_Base):
    """Which polymerization class can join these monomers? Distractors: classes their classes cannot give."""

    name = "polymerization_class"

    def sample(self, ctx, rng):
        picked = _linked_row(ctx, rng)
        if isinstance(picked, Rejected):
            return picked
        table, r = picked
        wrong = sorted(set(POLYMER_CLASSES) - table.achievable(int(table.pid[r])))
        if len(wrong) < 3:
            return Rejected("fewer than 3 impossible classes")
        distractors = [wrong[i] for i in rng.choice(len(wrong), size=3, replace=False)]
        return Draw([int(table.pid[r])], {"row": r, "distractors": distractors, "seed": int(rng.integers(1 << 30))})

    def compose(self, ctx, draw):
        table, r = link_table(ctx.pools), draw.params["row"]
        options, letter = shuffled_choice(np.random.default_rng(draw.params["seed"]), table.pclass[r],
                                          draw.params["distractors"])
        what = (f"join {table.pair_text(table.mons[r])} into one polymer chain" if len(table.mons[r]) == 2
                else f"turn {table.pair_text(table.mons[r])} into a polymer")
        question = (f"Which polymerization class can {what}, by SMiPoly's reaction rules? "
                    f"Exactly one option is possible.")
        return make_task(self, ctx, difficulty=2, question=question, gold=Answer(type="choice", choice=letter),
                         options=options, polymer_ids=draw.polymer_ids, source_ids=[SMIPOLY_SOURCE],
                         params=TaskParams(monomers=list(table.mons[r]), asked="polymerization_class"))

    def check(self, ctx, task):
        possible = link_table(ctx.pools).achievable(task.polymer_ids[0])
        return one_correct(task, lambda text: text in possible)


@register
class ReactionLinkage(_Base):
    """Which linkage does the reaction of these monomers form? Distractors are absent from the product."""

    name = "reaction_linkage"

    def sample(self, ctx, rng):
        picked = _linked_row(ctx, rng)
        if isinstance(picked, Rejected):
            return picked
        table, r = picked
        if table.linkage[r] is None:
            return Rejected("linkage not found in the product's groups")
        pid = int(table.pid[r])
        wrong = [g for g in LINKAGE_TEXT if self._wrong(ctx, pid, g)]
        distractors = [wrong[i] for i in rng.choice(len(wrong), size=3, replace=False)]
        return Draw([pid], {"row": r, "distractors": distractors, "seed": int(rng.integers(1 << 30))})

    def compose(self, ctx, draw):
        table, r = link_table(ctx.pools), draw.params["row"]
        options, letter = shuffled_choice(np.random.default_rng(draw.params["seed"]), LINKAGE_TEXT[table.linkage[r]],
                                          [LINKAGE_TEXT[g] for g in draw.params["distractors"]])
        parts = [f"{table.monomer_text(m)}, reacting as a {ROLE_WORDS.get(role, role)},"
                 for m, role in zip(table.mons[r], table.roles[r])]
        what = " is polymerized with ".join(parts) if len(parts) == 2 else f"{parts[0]} is polymerized on its own"
        question = (f"{what[0].upper()}{what[1:].rstrip(',')}. Which linkage joins the monomer units in the "
                    f"polymer formed?")
        return make_task(self, ctx, difficulty=2, question=question, gold=Answer(type="choice", choice=letter),
                         options=options, polymer_ids=draw.polymer_ids, source_ids=[SMIPOLY_SOURCE],
                         params=TaskParams(monomers=list(table.mons[r]), monomer_roles=list(table.roles[r]),
                                           asked="linkage"))

    def _wrong(self, ctx: TemplateContext, pid: int, linkage: str) -> bool:
        """A linkage is surely wrong when it is not the reaction's and the product does not contain it."""
        if linkage == link_table(ctx.pools).linkage_of[pid]:
            return False
        return linkage == "C-C" or group_count(ctx.pools, pid, GROUP_COLUMNS[linkage]) == 0

    def check(self, ctx, task):
        pid = task.polymer_ids[0]
        return one_correct(task, lambda text: not self._wrong(ctx, pid, LINKAGE_OF_TEXT[text]))


@register
class MonomersForPolymer(_Base):
    """Which monomer pair gives this polymer? linkage -> class -> monomers (difficulty 3)."""

    name = "monomers_for_polymer"

    def sample(self, ctx, rng):
        picked = _linked_row(ctx, rng)
        if isinstance(picked, Rejected):
            return picked
        table, r = picked
        pid = int(table.pid[r])
        if table.linkage[r] is None:
            return Rejected("linkage not found in the product's groups")
        own = table.pairs_of[pid]
        others = table.others(r, rng, 3, lambda c: None if table.pair[c] in own else table.pair[c])
        if len(others) < 3:
            return Rejected("too few other monomer pairs")
        return Draw([pid], {"row": r, "others": others, "seed": int(rng.integers(1 << 30))})

    def compose(self, ctx, draw):
        table, r = link_table(ctx.pools), draw.params["row"]
        pid, pclass, linkage = draw.polymer_ids[0], table.pclass[r], table.linkage[r]
        options, letter = shuffled_choice(np.random.default_rng(draw.params["seed"]), table.pair_text(table.mons[r]),
                                          [table.pair_text(table.mons[c]) for c in draw.params["others"]])
        polymer = ctx.pools.display_name(pid)
        subs = [
            SubQuestion(id="linkage", skill="identify-linkage", gold=Answer(type="set", items=[linkage]),
                        question=f"Which linkage joins the monomer units along the backbone of {polymer}?"),
            SubQuestion(id="class", skill="classify-polymer", gold=Answer(type="set", items=[pclass]),
                        question="Which polymerization class forms that linkage?", depends_on=["linkage"]),
            SubQuestion(id="monomers", skill="select-monomers", gold=Answer(type="choice", choice=letter),
                        question=f"Which option is a monomer pair that gives the polymer by {pclass} polymerization?",
                        depends_on=["class"]),
        ]
        question = (f"Which monomers can be polymerized into {polymer}, by SMiPoly's reaction rules? "
                    f"Exactly one option gives this repeat unit.")
        return make_task(self, ctx, difficulty=3, question=question, gold=Answer(type="choice", choice=letter),
                         options=options, sub_questions=subs, polymer_ids=[pid], source_ids=[SMIPOLY_SOURCE],
                         params=TaskParams(polymers=polymer_refs(ctx.pools, [pid], ["polymer"]), asked="monomers"),
                         composition="the backbone linkage names the class; the class says which monomer classes "
                                     "react; the option with such a pair that builds the unit is the answer")

    def check(self, ctx, task):
        right = link_table(ctx.pools).pair_texts_of(labelled_ids(task)["polymer"])
        return one_correct(task, lambda text: text in right)


@register
class PolymerFromMonomers(_Base):
    """Which repeat unit do these monomers form together? class -> linkage -> product (difficulty 3)."""

    name = "polymer_from_monomers"

    def sample(self, ctx, rng):
        picked = _linked_row(ctx, rng)
        if isinstance(picked, Rejected):
            return picked
        table, r = picked
        pid = int(table.pid[r])
        if table.linkage[r] is None:
            return Rejected("linkage not found in the product's groups")
        if len(table.achievable(pid)) > 1:
            return Rejected("monomers fit several classes")
        own = table.pairs_of[pid]
        others = table.others(r, rng, 3, lambda c: None if table.pairs_of[int(table.pid[c])] & own
                              else int(table.pid[c]))
        if len(others) < 3:
            return Rejected("too few other products")
        return Draw([pid] + [int(table.pid[c]) for c in others], {"row": r, "seed": int(rng.integers(1 << 30))})

    def compose(self, ctx, draw):
        table, r = link_table(ctx.pools), draw.params["row"]
        pid, pclass, linkage = draw.polymer_ids[0], table.pclass[r], table.linkage[r]
        show = ctx.pools.display_name
        shuffle = np.random.default_rng(draw.params["seed"])
        order = [draw.polymer_ids[i] for i in shuffle.permutation(len(draw.polymer_ids))]
        options, letter = lettered([show(q) for q in order]), LETTERS[order.index(pid)]
        monomers = table.pair_text(table.mons[r])
        subs = [
            SubQuestion(id="class", skill="classify-polymer", gold=Answer(type="set", items=[pclass]),
                        question=f"Which polymerization class can polymerize {monomers}?"),
            SubQuestion(id="linkage", skill="identify-linkage", gold=Answer(type="set", items=[linkage]),
                        question="Which linkage does that polymerization form between the monomer units?",
                        depends_on=["class"]),
            SubQuestion(id="product", skill="parse-structure", gold=Answer(type="choice", choice=letter),
                        question="Which option's repeat unit holds that linkage and is built from these monomers?",
                        depends_on=["linkage"]),
        ]
        question = (f"Which repeat unit is formed when {monomers} polymerize{'s' if len(table.mons[r]) == 1 else ''}, "
                    f"by SMiPoly's reaction rules? "
                    f"Exactly one option is the product.")
        return make_task(self, ctx, difficulty=3, question=question, gold=Answer(type="choice", choice=letter),
                         options=options, sub_questions=subs, polymer_ids=draw.polymer_ids,
                         source_ids=[SMIPOLY_SOURCE],
                         params=TaskParams(polymers=polymer_refs(ctx.pools, order, list(LETTERS[: len(order)])),
                                           monomers=list(table.mons[r]), asked="product"),
                         composition="the monomer classes give the class, the class the linkage; the product is "
                                     "the option built from both monomers through that linkage")

    def check(self, ctx, task):
        table, asked = link_table(ctx.pools), frozenset(task.params.monomers)
        makers = {label for label, p in labelled_ids(task).items() if asked in table.pairs_of[p]}
        hits = sorted(makers)
        return None if hits == [task.gold.choice] else f"options made from the monomers {hits} != gold {task.gold.choice}"

