"""Prompts shared by the solver, the training data and the evaluation, so that all three ask alike.

`task_prompt` is the user turn for one task (question, options, the answer format); `standalone_messages`
is the whole chat a standalone model gets, with or without chain of thought. Change PROMPT_VERSION with
any wording change: eval reports and training data record it.
"""

from __future__ import annotations

from agents.answer_text import ANSWER_PREFIX
from agents.schema import Task

PROMPT_VERSION = "1"

SYSTEM = ("You are a polymer scientist. Polymers are written as repeat-unit SMILES (PSMILES) whose two * "
          "mark where the unit joins its neighbours. Answer precisely; give numbers with their unit.")

_FORMAT = {
    "choice": "the letter of the one correct option (e.g. B)",
    "number": "a number followed by its unit (e.g. 373 K)",
    "ranking": "the letters in the order asked, joined by '>' (first = highest) or '<' (first = lowest)",
    "set": "the letters or names that apply, separated by commas, or 'none'",
    "yes_no": "yes or no",
    "polymer": "one repeat-unit SMILES with two * ends (e.g. *CC(*)c1ccccc1)",
}


def answer_format(task: Task) -> str:
    """How the final line must look for this task's answer type."""
    return f"End with one line '{ANSWER_PREFIX} <answer>' where <answer> is {_FORMAT[task.answer_type]}."


def task_prompt(task: Task, *, cot: bool) -> str:
    """The user turn for one task: question, options and the answer format (never the gold)."""
    parts = [task.question.strip()]
    if task.options and not all(o in task.question for o in task.options):
        parts.append("\n".join(task.options))
    how = "Think step by step, stating each fact you use." if cot else "Give only the answer line, no reasoning."
    parts.append(f"{how} {answer_format(task)}")
    return "\n\n".join(parts)


def standalone_messages(task: Task, *, cot: bool) -> list[dict[str, str]]:
    """The chat a standalone model gets for one task (system + user)."""
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": task_prompt(task, cot=cot)}]


# --- the tool-augmented solver (agents.solver.graph) ----------------------------------------------------

TOOL_FORMAT = ("Each reply is either one tool call or the final answer. To call a tool write, on its own last "
               'line: Tool call: {"name": "<tool>", "args": {...}} . You then get the tool\'s JSON result. '
               "When you know the answer, end with the answer line instead.")


def tool_system(menu: list[tuple[str, str, list[str]]]) -> str:
    """The system turn of a tool-using solver: the role, the tools (name, one line, argument names), the format."""
    lines = [f"- {name}({', '.join(args)}): {about}" for name, about, args in menu]
    return "\n".join([SYSTEM, "Tools:", *lines, TOOL_FORMAT])


def tool_task_prompt(task: Task, plan: list[str], *, cot: bool) -> str:
    """The user turn of a tool-using solver: the task prompt, then the plan (one line per sub-question)."""
    text = task_prompt(task, cot=cot)
    if len(plan) > 1:
        text += "\n\nPlan:\n" + "\n".join(f"{i}. {p}" for i, p in enumerate(plan, 1))
    return text
