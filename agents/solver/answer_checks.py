"""Checks of a composed answer with the tools before it is final: structure valid, design constraints met,
labels and units the task's own, a number inside its property's plausible range. Each problem is one line the model reads when asked to revise."""

from __future__ import annotations

import json

from agents.answer_text import option_labels
from agents.schema import Answer, Task
from agents.solver.policy import ToolBox
from kb.errors import PolyBenchError
from kb.properties import PROPERTIES
from kb.units import convert


def answer_problems(task: Task, answer: Answer, toolbox: ToolBox) -> list[str]:
    """What is wrong with an answer that the tools can tell without the gold (empty: nothing found)."""
    problems: list[str] = []
    labels = [p.label for p in task.params.polymers] or option_labels(task)
    if answer.type == "polymer":
        problems += polymer_problems(task, answer.polymer or "", toolbox)
    elif answer.type == "choice" and answer.choice not in option_labels(task):
        problems.append(f"{answer.choice!r} is not one of the options {', '.join(option_labels(task))}")
    elif answer.type == "ranking" and labels:
        given, known = set(answer.ranking or []), set(labels)
        if given - known:
            problems.append(f"unknown labels {', '.join(sorted(given - known))}; the polymers are {', '.join(labels)}")
        if known - given and len(known) <= 8:
            problems.append(f"the ranking leaves out {', '.join(sorted(known - given))}")
    elif answer.type == "set" and labels and set(answer.items or []) - set(labels):
        problems.append(f"unknown items {', '.join(sorted(set(answer.items or []) - set(labels)))}; "
                        f"the candidates are {', '.join(labels)}")
    elif answer.type == "number":
        problems += number_problems(task, answer)
    return problems


def number_problems(task: Task, answer: Answer) -> list[str]:
    """A number in a unit the task's unit converts to, and inside the asked property's plausible range."""
    unit = answer.unit or task.params.unit
    if task.params.unit and answer.unit and answer.unit != task.params.unit:
        try:
            convert(1.0, answer.unit, task.params.unit)
        except PolyBenchError:
            return [f"unit {answer.unit!r} cannot be converted to {task.params.unit!r}"]
    prop = PROPERTIES.get(task.params.property or "")
    if prop is None or unit is None or answer.number is None:
        return []
    try:
        value = convert(answer.number, unit, prop.unit)
    except PolyBenchError:
        return [f"unit {unit!r} is not a unit of {prop.name} ({prop.unit})"]
    if not prop.min_value <= value <= prop.max_value:
        return [(f"{answer.text()} is outside the plausible range of {prop.name} "
                f"({prop.min_value:g} to {prop.max_value:g} {prop.unit})")]
    return []


def polymer_problems(task: Task, psmiles: str, toolbox: ToolBox) -> list[str]:
    """A proposed repeat unit checked by validate_polymer, then against every design constraint of the task."""
    tool = toolbox.tools.get("validate_polymer")
    if tool is not None:
        result = json.loads(tool.invoke({"polymer": psmiles}))
        if not result.get("ok"):
            return [f"validate_polymer failed: {result.get('error')}"]
        if not result["data"].get("valid"):
            data = result["data"]
            return [f"{psmiles!r} is not a valid linear repeat unit: {data.get('problem')} ({data.get('hint')})"]
    if not task.constraints:
        return []
    from agents.taskgen.templates.design import check_design_answer

    ok, reasons = check_design_answer(toolbox.view, task, psmiles)
    return [] if ok else reasons
