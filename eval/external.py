"""Outside question sets as PolyBench tasks, scored and reported apart from PolyBench.

Two formats are read (by `load_benchmark(path)`):

1. PolyBench external JSONL: one JSON object per line::

       {"id": "q1", "type": "choice", "question": "Which polymer has the higher Tg?",
        "options": ["polystyrene", "polyethylene"], "answer": "A"}
       {"id": "q2", "type": "number", "question": "Tg of polystyrene?", "answer": 373, "unit": "K",
        "tolerance": 10, "category": "property_prediction",
        "sub_questions": [{"id": "s1", "type": "choice", "question": "...", "options": [...], "answer": "B",
                           "skill": "recall-definition"}]}

   `type` is choice or number. Choice: `options` as texts (lettered A, B, ... in order, or already written
   "A) ..."), `answer` a letter. Number: `answer` a number, optional `unit`, `tolerance` (absolute, in
   `unit`) or `log_tolerance` (decades); without either, 2 % relative. Optional: `category` (a PolyBench
   category, default conceptual_knowledge), `sub_questions` (same fields plus `skill` (default compose)
   and `depends_on`).

2. ChemBench-style task JSON (one task per file, or a folder of them, or a JSON list): `{"name": ...,
   "examples": [{"input": ..., "target_scores": {"option text": 1, ...}} | {"input": ..., "target": 1.5}],
   "relative_tolerance": 0.01?}`; `{type}` placeholders of ChemBench inputs are left as written.

Tasks get split "test", template `external:<benchmark>` and generator `external:<benchmark>`.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from agents.schema import CATEGORIES, SKILLS, Answer, SubQuestion, Task
from kb.errors import PolyBenchError

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
DEFAULT_RELATIVE_TOLERANCE = 0.02
EXTERNAL_PREFIX = "external:"


class BenchmarkFileError(PolyBenchError, ValueError):
    """An external benchmark file that cannot be read (the message names the file and the item)."""


def is_external(task: Task) -> bool:
    return task.generator.startswith(EXTERNAL_PREFIX)


def _options(raw: list[str]) -> list[str]:
    return [o if o[:3].rstrip().endswith(")") and o[0] in LETTERS else f"{LETTERS[i]}) {o}" for i, o in enumerate(raw)]


def _gold(item: dict[str, Any], where: str) -> tuple[Answer, list[str] | None]:
    kind = item.get("type")
    if kind == "choice":
        options = item.get("options") or []
        if len(options) < 2:
            raise BenchmarkFileError(f"{where}: a choice item needs two or more options")
        letter = str(item.get("answer", "")).strip().upper()
        if letter not in LETTERS[:len(options)]:
            raise BenchmarkFileError(f"{where}: answer {item.get('answer')!r} is not an option letter")
        return Answer(type="choice", choice=letter), _options([str(o) for o in options])
    if kind == "number":
        try:
            value = float(item["answer"])
        except (KeyError, TypeError, ValueError):
            raise BenchmarkFileError(f"{where}: a number item needs a numeric answer") from None
        tol, log_tol = item.get("tolerance"), item.get("log_tolerance")
        if tol is None and log_tol is None:
            tol = abs(value) * DEFAULT_RELATIVE_TOLERANCE
        return Answer(type="number", number=value, unit=item.get("unit"), tolerance=tol, log_tolerance=log_tol), None
    raise BenchmarkFileError(f"{where}: type must be 'choice' or 'number', got {kind!r}")


def _task(item: dict[str, Any], name: str, version: str, where: str) -> Task:
    if not isinstance(item, dict) or not str(item.get("question", "")).strip() or not item.get("id"):
        raise BenchmarkFileError(f"{where}: an item needs an id and a question")
    gold, options = _gold(item, where)
    category = item.get("category", "conceptual_knowledge")
    if category not in CATEGORIES:
        raise BenchmarkFileError(f"{where}: unknown category {category!r}; use one of {', '.join(CATEGORIES)}")
    subs = []
    for n, sub in enumerate(item.get("sub_questions") or []):
        sub_where = f"{where} sub-question {n + 1}"
        sub_gold, sub_options = _gold(sub, sub_where)
        skill = sub.get("skill", "compose")
        if skill not in SKILLS:
            raise BenchmarkFileError(f"{sub_where}: unknown skill {skill!r}")
        text = str(sub.get("question", "")).strip() + ("\n" + "\n".join(sub_options) if sub_options else "")
        if sub_gold.type == "choice" and options is None:
            raise BenchmarkFileError(f"{sub_where}: choice sub-questions need a choice item (shared options)")
        subs.append(SubQuestion(id=str(sub.get("id", f"s{n + 1}")), question=text, skill=skill, gold=sub_gold,
                                depends_on=[str(d) for d in sub.get("depends_on", [])]))
    return Task(id=f"{name}/{item['id']}", split="test", category=category, template=EXTERNAL_PREFIX + name,
                difficulty=3 if subs else 2, question=str(item["question"]).strip(), answer_type=gold.type,
                gold=gold, options=options, sub_questions=subs, generator=EXTERNAL_PREFIX + name,
                generator_version=version)


def _version(path: Path) -> str:
    files = sorted(path.rglob("*.json")) if path.is_dir() else [path]
    digest = hashlib.sha256()
    for f in files:
        digest.update(f.read_bytes())
    return digest.hexdigest()[:16]


def load_jsonl(path: Path, name: str | None = None) -> list[Task]:
    """Tasks of a PolyBench external JSONL file."""
    path, name = Path(path), name or Path(path).stem
    version, tasks = _version(path), []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise BenchmarkFileError(f"{path}:{number}: not JSON ({exc.msg})") from None
        tasks.append(_task(item, name, version, f"{path}:{number}"))
    return tasks


def _chembench_item(example: dict[str, Any], task: dict[str, Any], n: int, where: str) -> dict[str, Any]:
    base = {"id": f"{task.get('uuid') or task.get('name', 'task')}-{n}", "question": example.get("input", "")}
    if "target_scores" in example:
        scores = example["target_scores"]
        texts = list(scores)
        best = [i for i, t in enumerate(texts) if float(scores[t]) == max(float(v) for v in scores.values())]
        if len(best) != 1:
            raise BenchmarkFileError(f"{where}: example {n} has {len(best)} top-scored options; one is needed")
        return {**base, "type": "choice", "options": texts, "answer": LETTERS[best[0]]}
    if "target" in example:
        value = float(example["target"])
        rel = float(task.get("relative_tolerance") or DEFAULT_RELATIVE_TOLERANCE)
        return {**base, "type": "number", "answer": value, "tolerance": abs(value) * rel}
    raise BenchmarkFileError(f"{where}: example {n} has neither target_scores nor target")


def load_chembench(path: Path) -> list[Task]:
    """Tasks of a ChemBench-style task JSON file (or a folder of them, or a list of task objects)."""
    path = Path(path)
    files = sorted(path.rglob("*.json")) if path.is_dir() else [path]
    name, version, out = path.stem, _version(path), []
    for f in files:
        try:
            data = json.loads(f.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise BenchmarkFileError(f"{f}: not JSON ({exc.msg})") from None
        for task in data if isinstance(data, list) else [data]:
            if not isinstance(task, dict) or not isinstance(task.get("examples"), list):
                raise BenchmarkFileError(f"{f}: a ChemBench task needs an 'examples' list")
            for n, example in enumerate(task["examples"], 1):
                out.append(_task(_chembench_item(example, task, n, str(f)), name, version, f"{f} example {n}"))
    return out


def load_benchmark(path: Path) -> list[Task]:
    """An external benchmark: .jsonl is the PolyBench external format, .json / a folder is ChemBench-style."""
    path = Path(path)
    if not path.exists():
        raise BenchmarkFileError(f"{path}: no such file or folder")
    return load_jsonl(path) if path.suffix == ".jsonl" else load_chembench(path)
