"""eval.run end to end on the small real KB with the real SmolLM2 (tiny limits): every report file, the
design judge, resume after kill -9, external JSONL and ChemBench-style benchmarks."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from agents.files import write_tasks
from agents.graph_taskgen import run_job
from agents.schema import Answer, Task
from agents.taskgen.base import TemplateContext
from agents.taskgen.pools import Pools
from eval.config import CellPlan, EvalConfig
from eval.design import DesignJudge
from eval.external import BenchmarkFileError, load_benchmark
from eval.records import Cell
from eval.runner import read_predictions, run_eval
from eval.scorers import score_answer

ROOT = Path(__file__).resolve().parents[1]
TEMPLATES = ["pair_higher", "property_value", "route_feasibility", "design_polymer", "constraint_filter"]
SMOL = "hf:smollm2"
TINY = {"max_new_tokens": 6, "max_new_tokens_cot": 12, "batch_size": 4}


@pytest.fixture(scope="module")
def tasks_file(small_kb, small_kb_config, tmp_path_factory) -> Path:
    tasks: list[Task] = []
    for split, n in (("train", 6), ("test", 2)):
        ctx = TemplateContext(Pools.load(small_kb_config.kb_dir, split))
        tasks += [t for name in TEMPLATES for t in run_job(ctx, name, n, seed=3)["emitted"]]
    path = tmp_path_factory.mktemp("tasks") / "tasks.jsonl"
    write_tasks(path, tasks)
    return path


def _config(tmp: Path, kb_dir: Path, tasks_file: Path, **extra) -> EvalConfig:
    return EvalConfig(kb_dir=kb_dir, tasks_file=tasks_file, out=tmp, models_dir=ROOT / ".polybench/models",
                      **{**TINY, **extra})


def test_end_to_end_writes_every_report_file(tmp_path, small_kb_config, tasks_file) -> None:
    cells = [CellPlan(cell=Cell(model=SMOL, mode="standalone", cot=True), limit=2),
             CellPlan(cell=Cell(model=SMOL, mode="standalone", cot=False), limit=2),
             CellPlan(cell=Cell(model="reasoner", mode="tools", cot=True), limit=2)]
    config = _config(tmp_path, small_kb_config.kb_dir, tasks_file, cells=cells, limit=4,
                     baselines=["nearest_neighbour"], templates=["pair_higher", "design_polymer"])
    torch.set_num_threads(2)  # torch's own default on a 2-core machine; loading an hf: model used to cut it to 1
    result = run_eval(config)
    assert torch.get_num_threads() == 2  # the language-model cells ran on both cores
    for name in ("predictions.jsonl", "metrics.json", "report.md", "accuracy_per_category.png",
                 "gap_per_model.png", "cot_gain.png"):
        assert (tmp_path / name).stat().st_size > 0, name
    assert (tmp_path / "cot_gain.png").read_bytes()[:4] == b"\x89PNG"
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    meta = metrics["meta"]
    assert meta["task_set_hash"] and meta["kb_version"] and meta["prompt_version"] and SMOL in meta["models"]
    assert meta["torch_threads"] == 2
    cells_out = metrics["benchmarks"]["polybench"]["cells"]
    assert set(cells_out) == {c.cell.name for c in cells} | {"baseline:nearest_neighbour | baseline | cot off"}
    for cell in cells_out.values():
        assert cell["overall"]["ci95"] is not None and all(v["ci95"] for v in cell["by_category"].values())
    smol_on = cells_out[cells[0].cell.name]
    assert smol_on["overall"]["n"] == 2 and smol_on["sub_questions"]["n"] > 0  # sub-questions asked on their own
    assert "hf:smollm2 | standalone" in metrics["benchmarks"]["polybench"]["cot_gain"]
    preds = [json.loads(line) for line in (tmp_path / "predictions.jsonl").read_text().splitlines()]
    assert len(preds) == result.predictions and len({p["key"] for p in preds}) == len(preds)
    traced = [p for p in preds if p["cell"]["mode"] == "tools"]
    assert sum(p["sub_id"] is None for p in traced) == 2 and all(p["source"] == "trace" for p in traced if p["sub_id"])
    asked = [p for p in preds if p["cell"]["mode"] == "standalone"]
    assert all(p["prompt"] and p["raw_output"] is not None and p["score"]["outcome"] for p in asked)
    report = (tmp_path / "report.md").read_text()
    assert "Accuracy by category" in report and "Compositionality gap" in report and "CoT" in report
    again = run_eval(config)  # a finished run asks nothing again and rebuilds the same predictions
    assert again.predictions == result.predictions
    assert [json.loads(line) for line in (tmp_path / "predictions.jsonl").read_text().splitlines()] == preds


def test_design_judge_on_the_kb(small_kb_config, tasks_file) -> None:
    from agents.files import read_tasks

    design = next(t for t in read_tasks(tasks_file) if t.template == "design_polymer" and t.split == "test")
    judge = DesignJudge(small_kb_config.kb_dir)
    try:
        gold = judge.judge(design, design.gold.polymer)
        assert gold.valid and gold.verified and not gold.novel and all(c.basis in ("rdkit", "measured")
                                                                       for c in gold.checks)
        assert score_answer(design, design.gold, judge).correct
        invalid = judge.judge(design, "*C(((*")
        assert not invalid.valid and not invalid.verified
        novel = judge.judge(design, "*CC(*)c1ccc(C(F)(F)F)c(Cl)c1F")  # not in the small KB
        assert novel.valid and novel.novel and not novel.verified
        assert any(c.basis in ("estimated", "none") for c in novel.checks) or novel.constraint_missed
    finally:
        judge.close()


def _shard_lines(out: Path) -> list[str]:
    return [line for shard in sorted((out / "shards").glob("*.jsonl")) for line in shard.read_text().splitlines()]


def test_resume_after_kill_9(tmp_path, small_kb_config, tasks_file) -> None:
    out = tmp_path / "run"
    conf = tmp_path / "eval.json"
    conf.write_text(json.dumps({"max_new_tokens": 6, "batch_size": 1, "sub_questions": False, "baselines": [],
                                "models_dir": str(ROOT / ".polybench/models")}))
    cmd = [sys.executable, "-m", "eval.run", "--model", SMOL, "--mode", "standalone", "--cot", "off",
           "--limit", "3", "--templates", "pair_higher,design_polymer", "--kb-dir", str(small_kb_config.kb_dir),
           "--tasks", str(tasks_file), "--out", str(out), "--config", str(conf)]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline and (not (out / "shards").exists() or len(_shard_lines(out)) < 1):
        time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    first = _shard_lines(out)
    assert 1 <= len(first) < 3, "the kill came before the first or after the last prediction"
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-800:]
    assert "report:" in done.stdout
    after = _shard_lines(out)
    keys = [json.loads(line)["key"] for line in after]
    assert len(keys) == len(set(keys))                         # nothing asked twice
    assert after[:len(first)] == first                          # finished prompts kept as they were
    assert len(read_predictions(out)) == len(after) == 3


def _external(tmp: Path) -> tuple[Path, Path]:
    jsonl = tmp / "outside.jsonl"
    jsonl.write_text("\n".join(json.dumps(x) for x in [
        {"id": "q1", "type": "choice", "question": "Which polymer is a polyester?",
         "options": ["polyethylene terephthalate", "polystyrene"], "answer": "A"},
        {"id": "q2", "type": "number", "question": "What is the glass transition temperature of polystyrene?",
         "answer": 100, "unit": "degC", "tolerance": 15, "category": "property_prediction",
         "sub_questions": [{"id": "s1", "type": "number", "question": "Tg of polystyrene in K?", "answer": 373,
                            "unit": "K", "tolerance": 15, "skill": "look-up-property"}]},
    ]) + "\n")
    chem = tmp / "chembench_task.json"
    chem.write_text(json.dumps({"name": "polymer_basics", "examples": [
        {"input": "Which monomer gives polystyrene?", "target_scores": {"styrene": 1, "ethylene": 0}},
        {"input": "Molar mass of ethylene in g/mol?", "target": 28.05}], "relative_tolerance": 0.05}))
    return jsonl, chem


def test_external_loaders(tmp_path) -> None:
    jsonl, chem = _external(tmp_path)
    tasks = load_benchmark(jsonl)
    assert [t.answer_type for t in tasks] == ["choice", "number"] and tasks[0].options[0].startswith("A) ")
    assert tasks[1].sub_questions[0].skill == "look-up-property" and tasks[1].category == "property_prediction"
    assert score_answer(tasks[1], Answer(type="number", number=370, unit="K")).correct  # 96.85 degC
    chembench = load_benchmark(chem)
    assert chembench[0].gold.choice == "A" and chembench[1].gold.tolerance == pytest.approx(28.05 * 0.05)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x", "type": "choice", "question": "?", "options": ["a", "b"], "answer": "Q"}\n')
    with pytest.raises(BenchmarkFileError, match="bad.jsonl:1"):
        load_benchmark(bad)


def test_external_benchmarks_run_apart(tmp_path, tasks_file) -> None:
    jsonl, chem = _external(tmp_path)
    config = _config(tmp_path / "out", tmp_path / "no-kb", tasks_file, polybench=False, benchmarks=[jsonl, chem],
                     models=[SMOL], modes=["standalone"], cot=[False], baselines=[])
    run_eval(config)
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())["benchmarks"]
    assert set(metrics) == {"outside", "chembench_task"}               # reported apart, no PolyBench
    assert metrics["outside"]["cells"][f"{SMOL} | standalone | cot off"]["overall"]["n"] == 2
    assert metrics["outside"]["cells"][f"{SMOL} | standalone | cot off"]["sub_questions"]["n"] == 1
    assert metrics["chembench_task"]["cells"][f"{SMOL} | standalone | cot off"]["overall"]["n"] == 2
