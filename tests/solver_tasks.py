"""Hand-written tasks over a KB's own polymers for the solver tests (no generator needed, gold never read)."""

from __future__ import annotations

from agents.schema import Answer, PolymerRef, Task, TaskParams
from tools.kb_view import KBView


def dev_polymer_keys(view: KBView, n: int) -> list[str]:
    """The first n dev-split polymer keys of the KB, by id."""
    con = view.connect()
    try:
        return [r[0] for r in con.execute(
            "SELECT key FROM polymers WHERE split = 'dev' ORDER BY polymer_id LIMIT ?", [n]).fetchall()]
    finally:
        con.close()


def choice_task(key: str, task_id: str = "t-choice-1") -> Task:
    """A choice question about one polymer (the gold is B; solvers never read it)."""
    return Task(id=task_id, split="dev", category="structural_understanding", template="hand_written",
                difficulty=1, question=f"How many aromatic rings has the repeat unit {key}?", answer_type="choice",
                gold=Answer(type="choice", choice="B"), options=["A) 0", "B) 1", "C) 2"],
                params=TaskParams(polymers=[PolymerRef(label="polymer", psmiles=key)], asked="aromatic_rings"),
                generator="test", generator_version="0")


def number_task(key: str, task_id: str = "t-number-1") -> Task:
    """A number question about one polymer."""
    return Task(id=task_id, split="dev", category="structural_understanding", template="hand_written",
                difficulty=1, question=f"What is the molecular weight of one repeat unit of {key}, in g/mol?",
                answer_type="number", gold=Answer(type="number", number=100.0, unit="g/mol", tolerance=1.0),
                params=TaskParams(polymers=[PolymerRef(label="polymer", psmiles=key)], unit="g/mol",
                                  asked="repeat_unit_mass"),
                generator="test", generator_version="0")
