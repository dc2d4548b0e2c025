"""The task generator end to end on the small real KB: outputs, split isolation, determinism, resume."""

import json

import pytest

from agents.answers import answers_match
from agents.files import read_tasks
from agents.schema import Task
from agents.taskgen.config import TaskGenConfig
from agents.taskgen.registry import load_templates
from agents.taskgen.run import generate
from kb.store import connect_read_only

SCALE = 0.004  # ~520 tasks over all templates and splits


@pytest.fixture(scope="module")
def run(small_kb, small_kb_config, tmp_path_factory):
    out = tmp_path_factory.mktemp("tasks")
    config = TaskGenConfig(kb_dir=small_kb_config.kb_dir, out_dir=out, scale=SCALE, n_jobs=2, seed=3)
    report = generate(config)
    return config, report, read_tasks(out / "tasks.jsonl")


def test_all_six_categories_and_several_difficulties(run):
    _, report, tasks = run
    assert report.tasks == len(tasks) > 200
    assert len({t.category for t in tasks}) == 6
    assert {1, 2, 3, 4} <= {t.difficulty for t in tasks}
    assert {t.split for t in tasks} == {"train", "dev", "test"}


def test_no_polymer_crosses_splits(run, small_kb):
    _, _, tasks = run
    con = connect_read_only(small_kb.db_path)
    split_of = dict(con.execute("SELECT polymer_id, split FROM polymers").fetchall())
    con.close()
    assert all(t.polymer_ids for t in tasks)  # every task draws its polymers from its own split
    for task in tasks:
        if task.polymer_ids:
            assert {split_of[p] for p in task.polymer_ids} == {task.split}, task.id


def test_sub_questions_compose_and_carry_skills(run):
    _, _, tasks = run
    templates = load_templates()
    hard = [t for t in tasks if t.difficulty >= 3]
    assert hard
    for task in hard:
        assert task.sub_questions and all(s.skill for s in task.sub_questions)
        assert answers_match(task.gold, templates[task.template].compose_from_subs(task)), task.id


def test_choice_tasks_have_one_gold_among_distinct_options(run):
    _, _, tasks = run
    for task in (t for t in tasks if t.answer_type == "choice"):
        texts = [o.split(") ", 1)[1] for o in task.options]
        assert len(set(texts)) == len(texts) and task.gold.choice in "ABCDEFGH"[: len(texts)]


def test_same_seed_same_tasks_and_resume(run, tmp_path):
    config, _, tasks = run
    again = generate(config)                      # same out_dir: every job resumes from its file
    assert again.resumed_jobs > 0 and again.tasks == len(tasks)
    fresh = generate(config.model_copy(update={"out_dir": tmp_path / "fresh", "n_jobs": 1}))
    assert [t.id for t in read_tasks(tmp_path / "fresh" / "tasks.jsonl")] == [t.id for t in tasks]
    assert fresh.resumed_jobs == 0


def test_huggingface_folder_loads_and_round_trips(run, tmp_path):
    import datasets

    config, _, tasks = run
    # a fresh cache: datasets' default cache can hand back an older dataset generated at the same path
    ds = datasets.load_dataset(str(config.out_dir / "hf"), cache_dir=str(tmp_path / "hf_cache"))
    assert set(ds) == {"train", "dev", "test"}
    assert sum(len(ds[s]) for s in ds) == len(tasks)
    row = ds["test"][0]
    for key in ("gold", "constraints", "sub_questions", "params"):
        row[key] = json.loads(row[key])
    row.pop("skills")
    assert Task.model_validate(row).split == "test"
    card = (config.out_dir / "hf" / "README.md").read_text()
    assert "licence" in card and "structural_understanding" in card


def test_bad_config_is_refused():
    with pytest.raises(ValueError, match="unknown categories"):
        TaskGenConfig(per_category={"poetry": 10})
    with pytest.raises(ValueError, match="sum to 1"):
        TaskGenConfig(splits={"train": 0.5, "dev": 0.1, "test": 0.1})
