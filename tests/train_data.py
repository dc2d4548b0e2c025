"""Distill records for the training tests, built from real schema objects and rendered by agents.solver.render."""

from __future__ import annotations

import json
from pathlib import Path

from agents.schema import Answer, Step, Task, ToolCall, Trace
from agents.solver.prompts import standalone_messages
from agents.solver.render import render_standalone, render_tool_transcript

# (category, question, options, gold, steps as (skill, thought, tool call or None, observation, conclusion))
_ITEMS = [
    ("structural_understanding", "How many aromatic rings does the repeat unit *CC(*)c1ccccc1 contain?", None,
     Answer(type="number", number=1.0, unit=""),
     [("count-features", "Count the aromatic rings of *CC(*)c1ccccc1.", ToolCall(name="describe_structure",
       args={"psmiles": "*CC(*)c1ccccc1"}), '{"aromatic_rings": 1}', "The unit has 1 aromatic ring (phenyl).")]),
    ("property_prediction", "Which is closest to the glass transition temperature of polystyrene, *CC(*)c1ccccc1?",
     ["A) 200 K", "B) 373 K", "C) 600 K", "D) 900 K"], Answer(type="choice", choice="B"),
     [("look-up-property", "Look up the Tg of polystyrene.", ToolCall(name="lookup_property",
       args={"psmiles": "*CC(*)c1ccccc1", "property": "Tg"}), '{"value": 373, "unit": "K"}',
       "Polystyrene's Tg is about 373 K."), ("compare", "373 K matches option B.", None, None, None)]),
    ("property_comparison", "Which has the higher glass transition temperature: A) *CC* or B) *CC(*)c1ccccc1?",
     ["A) *CC*", "B) *CC(*)c1ccccc1"], Answer(type="choice", choice="B"),
     [("look-up-property", "Polyethylene's Tg is about 195 K.", None, None, None),
      ("compare", "Polystyrene's Tg of 373 K is higher than 195 K.", None, None, None)]),
    ("conceptual_knowledge", "Does the repeat unit *CC(*)c1ccccc1 form by chain-growth polymerization?", None,
     Answer(type="yes_no", yes=True),
     [("classify-polymer", "A vinyl monomer (styrene) gives this unit by chain growth.", None, None, None)]),
    ("advanced_reasoning", "Is the Tg of *CC(*)C(=O)OC above 350 K?", None, Answer(type="yes_no", yes=True),
     [("look-up-property", "Find the Tg of PMMA.", ToolCall(name="lookup_property",
       args={"psmiles": "*CC(*)C(=O)OC", "property": "Tg"}), '{"value": 378, "unit": "K"}', "It is 378 K."),
      ("check-constraint", "378 K is above 350 K.", None, None, None)]),
    ("synthesis_design", "Name the polymerization class that makes *CC(*)c1ccccc1 from styrene.",
     ["A) polyaddition", "B) vinyl polymerization", "C) polycondensation"], Answer(type="choice", choice="B"),
     [("select-monomers", "Styrene is a vinyl monomer; the unit comes from vinyl polymerization.", None, None,
       None)]),
]


def make_pair(index: int, split: str, item: int) -> tuple[Task, Trace]:
    """A task of one of the six categories (by `item`) and a trace that answers it."""
    category, question, options, gold, steps = _ITEMS[item % len(_ITEMS)]
    task_id = f"{split}-{category[:6]}-{index:03d}"
    task = Task(id=task_id, split=split, category=category, template="fixture", difficulty=1,
                question=f"{question} (case {index})", answer_type=gold.type, gold=gold, options=options,
                generator="tests", generator_version="1")
    trace = Trace(task_id=task_id, model="reasoner", final_answer=gold, outcome="solved", verified=True,
                  steps=[Step(skill=s, thought=t, tool_call=c, observation=o, tool_ok=None if c is None else True,
                              conclusion=k) for s, t, c, o, k in steps])
    return task, trace


def distill_line(task: Task, trace: Trace, *, kept: bool = True, reason: str | None = None) -> str:
    """One line of a distill shard as agents.distill writes it (contract 3)."""
    tools = [*standalone_messages(task, cot=True), *render_tool_transcript(trace)]
    return json.dumps({"task": task.model_dump(mode="json"), "trace": trace.model_dump(mode="json"),
                       "kept": kept, "reject_reason": reason, "standalone": render_standalone(trace),
                       "tools": tools})


def write_distill(folder: Path, *, train: int = 12, dev: int = 6, rejected: int = 2, test: int = 1) -> Path:
    """A distill output folder with kept train and dev records, some rejected ones and a test-split one."""
    lines = []
    for i in range(train):
        lines.append(distill_line(*make_pair(i, "train", i)))
    for i in range(dev):
        lines.append(distill_line(*make_pair(100 + i, "dev", i)))
    for i in range(rejected):
        lines.append(distill_line(*make_pair(200 + i, "train", i), kept=False, reason="wrong_answer"))
    for i in range(test):
        lines.append(distill_line(*make_pair(300 + i, "test", i)))
    shards = folder / "traces"
    shards.mkdir(parents=True, exist_ok=True)
    half = len(lines) // 2
    (shards / "shard-000.jsonl").write_text("\n".join(lines[:half]) + "\n", encoding="utf-8")
    (shards / "shard-001.jsonl").write_text("\n".join(lines[half:]) + "\n", encoding="utf-8")
    return folder
