"""A chat turn as the one Task type: an open design request with the parsed constraints and no gold.

Why a gold-less Task rather than a fake gold or a second type: a person's request has no right answer to
match, only checks (any KB polymer meeting every constraint is right), and the solver graph already
verifies a design answer with the tools without reading the gold. So `agents.schema.Task` allows
`gold=None` for exactly one kind of task, split "chat" (`REQUEST_SPLIT`), which its validator pins to an
open design question: template design_polymer, a polymer answer, at least one constraint, no
sub-questions. `agents.files` refuses to write or read such a task, so it never reaches a benchmark file,
a distillation shard or a scorer; a solver gives it the whole KB (`Solver.view_for`).
"""

from __future__ import annotations

import hashlib
import json

from agents.schema import REQUEST_SPLIT, Constraint, Task, TaskParams

GENERATOR = "agents.chat"
GENERATOR_VERSION = "1"


def request_question(constraints: list[Constraint]) -> str:
    """The request in the words of the benchmark's design questions (what an LLM backbone reads)."""
    texts = [c.describe() for c in constraints]  # the chat's group words ("fluorine") are not taskgen's names
    return ("Propose a polymer that meets all of these requirements: "
            + "; ".join(f"({i + 1}) {t}" for i, t in enumerate(texts))
            + ". Property requirements refer to the median of the knowledge base's measured values. "
              "Answer with the repeat unit as SMILES with two * ends.")


def request_id(session_id: str, turn: int, constraints: list[Constraint]) -> str:
    """`<session>-t<turn>-<hash of the constraints>`: the graph's checkpoint thread (a changed request after a
    crash gets a new thread, the same request resumes its own)."""
    text = json.dumps([c.model_dump(exclude_none=True) for c in constraints], sort_keys=True)
    return f"{session_id}-t{turn}-{hashlib.sha256(text.encode()).hexdigest()[:8]}"


def request_task(constraints: list[Constraint], task_id: str) -> Task:
    """The design Task of one chat turn (split "chat", no gold; see the module docstring)."""
    return Task(id=task_id, split=REQUEST_SPLIT, category="synthesis_design", template="design_polymer",
                difficulty=1, question=request_question(constraints), answer_type="polymer",
                constraints=list(constraints), params=TaskParams(asked="design"),
                generator=GENERATOR, generator_version=GENERATOR_VERSION)
