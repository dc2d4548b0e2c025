"""Write tasks as JSONL + Parquet and as a folder that Hugging Face `datasets.load_dataset` loads.

Final outputs appear whole or not at all: everything is written into a staging folder first, then files
are renamed into place (hf/ as a folder swap) and counts.json last. A killed run leaves only the staging
folder and temp files, which the next run removes (`remove_leftovers`).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections import Counter
from pathlib import Path

import pandas as pd

from agents.files import atomic_write_text, write_tasks
from agents.schema import SCHEMA_VERSION, SKILLS, Task

NESTED = ("gold", "constraints", "sub_questions", "params")


def flat_record(task: Task) -> dict:
    """One Parquet / HF row: scalar columns plus nested fields as JSON text (one stable schema)."""
    data = task.model_dump(mode="json")
    for key in NESTED:
        data[key] = json.dumps(data[key])
    data["options"] = data["options"] or []
    data["skills"] = sorted({s.skill for s in task.sub_questions})
    return data


def task_set_hash(tasks: list[Task]) -> str:
    """sha256 (16 hex) of the task set as tasks.jsonl holds it: equal on any machine for equal content."""
    digest = hashlib.sha256()
    for task in tasks:
        digest.update((task.model_dump_json() + "\n").encode())
    return digest.hexdigest()[:16]


def named_shares(tasks: list[Task], split: str = "test") -> dict[str, float]:
    """Of a split's tasks that show polymers: the share showing a named one; of the polymers shown, the
    share with a name."""
    showing = [t for t in tasks if t.split == split and t.params.polymers]
    shown = {r.psmiles: r.name for t in showing for r in t.params.polymers}
    return {"tasks_showing_a_named_polymer": round(sum(any(r.name for r in t.params.polymers) for t in showing)
                                                   / max(len(showing), 1), 4),
            "polymers_shown_with_a_name": round(sum(1 for n in shown.values() if n) / max(len(shown), 1), 4),
            "tasks_showing_polymers": len(showing)}


def licence_counts(tasks: list[Task], sources: pd.DataFrame) -> dict[str, int]:
    """Tasks per licence of the sources their golds derive from (structure-only tasks counted apart)."""
    licence = dict(zip(sources["source_id"], sources["licence"]))
    structure_only = "(structure only: RDKit features of the repeat unit)"
    found: Counter = Counter()
    for task in tasks:
        for name in sorted({licence.get(s, "unknown") for s in task.source_ids}) or [structure_only]:
            found[name] += 1
    return dict(found)


def counts(tasks: list[Task]) -> dict[str, dict[str, int]]:
    """Counts per category, difficulty, split, template and skill (for the card and the CLI summary)."""
    return {
        "category": dict(Counter(t.category for t in tasks)),
        "difficulty": {str(k): v for k, v in sorted(Counter(t.difficulty for t in tasks).items())},
        "split": dict(Counter(t.split for t in tasks)),
        "template": dict(Counter(t.template for t in tasks)),
        "skill": dict(Counter(s.skill for t in tasks for s in t.sub_questions)),
    }


def _table(title: str, data: dict[str, int]) -> str:
    rows = "\n".join(f"| {k} | {v:,} |" for k, v in sorted(data.items(), key=lambda kv: -kv[1]))
    return f"### {title}\n\n| {title} | tasks |\n|---|---|\n{rows}\n"


def dataset_card(tasks: list[Task], sources: pd.DataFrame, kb_version: str, seed: int, generator: str = "") -> str:
    """README.md of the HF folder: YAML config (splits -> files), counts, skills, sources and licences."""
    stats = counts(tasks)
    splits = sorted(stats["split"])
    yaml_files = "\n".join(f"      - split: {s}\n        path: data/{s}.parquet" for s in splits)
    skill_rows = "\n".join(f"| {k} | {SKILLS[k]} | {stats['skill'].get(k, 0):,} |" for k in SKILLS)
    source_rows = "\n".join(f"| {r.source_id} | {r.kind} | {r.licence} |" for r in sources.itertuples())
    licence_rows = "\n".join(f"| {k} | {v:,} |" for k, v in sorted(licence_counts(tasks, sources).items()))
    named = named_shares(tasks)
    return f"""---
configs:
  - config_name: default
    data_files:
{yaml_files}
license: other
---
# PolyBench tasks

{len(tasks):,} polymer design tasks in six categories, generated from PolyBench KB `{kb_version}` (a hash of its
content) with seed {seed} by generator `{generator}` (a hash of its code and library versions); task set hash
`{task_set_hash(tasks)}` (sha256 of tasks.jsonl; README.md says how to reproduce it). Schema version {SCHEMA_VERSION}. Nested fields (`gold`, `constraints`, `sub_questions`, `params`) are JSON text;
`agents.schema.Task` parses a row back. Splits are by polymer: no polymer of one split appears in another.
Golds of property questions are measured KB values (median per polymer, property and kind), never model
estimates.

{_table("category", stats["category"])}
{_table("difficulty", stats["difficulty"])}
{_table("split", stats["split"])}
{_table("template", stats["template"])}
### skills (sub-questions)

| skill | meaning | sub-questions |
|---|---|---|
{skill_rows}

### named polymers (test split)

{named["tasks_showing_a_named_polymer"]:.1%} of the {named["tasks_showing_polymers"]:,} test tasks that show polymers show
at least one named polymer; {named["polymers_shown_with_a_name"]:.1%} of the distinct polymers they show have a name.
Named, measured polymers are drawn first; SMiPoly's unnamed virtual polymers appear where a question is
about structure or synthesis.

### sources and licences used

The tasks derive from these KB sources; their licences apply (some are non-commercial or share-alike).

| source | kind | licence |
|---|---|---|
{source_rows}

Tasks per licence of the sources their golds derive from (a task with several sources counts under each):

| licence | tasks |
|---|---|
{licence_rows}
"""


STAGING, OLD_HF = ".final.tmp", ".hf.old"


def write_outputs(out_dir: Path, tasks: list[Task], sources: pd.DataFrame, kb_version: str, seed: int,
                  generator: str = "") -> None:
    """tasks.jsonl, tasks.parquet and hf/ (data/<split>.parquet + README.md) under out_dir."""
    stage = out_dir / STAGING
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir(parents=True)
    write_tasks(stage / "tasks.jsonl", tasks)
    frame = pd.DataFrame([flat_record(t) for t in tasks])
    frame.to_parquet(stage / "tasks.parquet", index=False)
    hf = stage / "hf"
    (hf / "data").mkdir(parents=True, exist_ok=True)
    for split, part in frame.groupby("split"):
        part.reset_index(drop=True).to_parquet(hf / "data" / f"{split}.parquet", index=False)
    atomic_write_text(hf / "README.md", dataset_card(tasks, sources, kb_version, seed, generator))
    summary = {"task_set_hash": task_set_hash(tasks), "kb_version": kb_version, "generator_version": generator,
               "seed": seed, "named_test": named_shares(tasks), **counts(tasks)}
    atomic_write_text(stage / "counts.json", json.dumps(summary, indent=1))
    _publish(stage, out_dir)


def _publish(stage: Path, out_dir: Path) -> None:
    """Move the staged outputs into place, each whole: files by rename, hf/ by a folder swap, counts last."""
    for name in ("tasks.jsonl", "tasks.parquet"):
        os.replace(stage / name, out_dir / name)
    old = out_dir / OLD_HF
    shutil.rmtree(old, ignore_errors=True)
    if (out_dir / "hf").exists():
        (out_dir / "hf").rename(old)
    (stage / "hf").rename(out_dir / "hf")
    shutil.rmtree(old, ignore_errors=True)
    os.replace(stage / "counts.json", out_dir / "counts.json")
    shutil.rmtree(stage, ignore_errors=True)


def remove_leftovers(out_dir: Path, job_dir: Path) -> None:
    """Remove what a killed run left: the staging folder, an old hf/ being swapped, temp files."""
    shutil.rmtree(out_dir / STAGING, ignore_errors=True)
    if (out_dir / OLD_HF).exists():
        if not (out_dir / "hf").exists():  # killed mid-swap: the old folder is the last whole one
            (out_dir / OLD_HF).rename(out_dir / "hf")
        shutil.rmtree(out_dir / OLD_HF, ignore_errors=True)
    for tmp in [*out_dir.glob(".*.tmp"), *job_dir.glob(".*.tmp")]:
        tmp.unlink(missing_ok=True)
