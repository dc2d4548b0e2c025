"""eval.metrics on constructed predictions: the compositionality gap, bootstrap intervals, paired gains,
and the error taxonomy."""

from __future__ import annotations

import pytest

from agents.schema import Step, ToolCall, Trace
from eval.metrics import all_metrics, bootstrap_ci, compositionality_gap, paired_gain
from eval.records import Cell, Prediction, error_class
from eval.scorers import Score

CELL = Cell(model="hf:smollm2", mode="standalone", cot=True)


def _pred(task: str, correct: bool, *, sub: str | None = None, category: str = "advanced_reasoning",
          cell: Cell = CELL) -> Prediction:
    task_id = f"{task}#{sub}" if sub else task
    score = Score(outcome="solved" if correct else "wrong", correct=correct)
    return Prediction(key=f"{cell.name} | {task_id}", cell=cell, benchmark="polybench", task_id=task_id,
                      parent_id=task, sub_id=sub, category=category, template="t", difficulty=3,
                      skill="compare" if sub else None, answer_type="yes_no", prompt="?", raw_output="Answer: yes",
                      parsed=None, score=score, error_class=error_class(score))


def test_gap_on_a_constructed_case() -> None:
    preds = [
        # t1: subs right, main wrong -> counts in the gap
        _pred("t1", False), _pred("t1", True, sub="a"), _pred("t1", True, sub="b"),
        # t2: subs right, main right
        _pred("t2", True), _pred("t2", True, sub="a"), _pred("t2", True, sub="b"),
        # t3: one sub wrong -> not among the all-subs-right tasks
        _pred("t3", False), _pred("t3", False, sub="a"), _pred("t3", True, sub="b"),
        # t4: subs right, main wrong, another category
        _pred("t4", False, category="property_comparison"), _pred("t4", True, sub="a", category="property_comparison"),
        # t5: no sub-questions -> not counted
        _pred("t5", False),
    ]
    gap = compositionality_gap(preds)
    assert gap["advanced_reasoning"]["n_subs_right"] == 2 and gap["advanced_reasoning"]["gap"] == 0.5
    assert gap["property_comparison"] == {"n_subs_right": 1, "main_wrong": 1, "gap": 1.0, "ci95": [1.0, 1.0]}
    assert gap["all"]["n_subs_right"] == 3 and gap["all"]["main_wrong"] == 2


def test_bootstrap_is_deterministic_and_brackets_the_mean() -> None:
    values = [1.0] * 30 + [0.0] * 70
    ci = bootstrap_ci(values)
    assert ci == bootstrap_ci(values) and ci[0] < 0.3 < ci[1]
    assert bootstrap_ci([]) is None and bootstrap_ci([1.0, 1.0]) == [1.0, 1.0]


def test_paired_gain_uses_shared_tasks_only() -> None:
    off = Cell(model="hf:smollm2", mode="standalone", cot=False)
    on_preds = [_pred("t1", True), _pred("t2", True), _pred("t3", False)]
    off_preds = [_pred("t1", False, cell=off), _pred("t2", True, cell=off)]  # t3 not asked with CoT off
    gain = paired_gain(on_preds, off_preds)
    assert gain["all"]["n"] == 2 and gain["all"]["gain"] == 0.5
    metrics = all_metrics(on_preds + off_preds)["polybench"]
    assert metrics["cot_gain"]["hf:smollm2 | standalone"]["all"]["gain"] == 0.5
    cell = metrics["cells"][CELL.name]
    assert cell["overall"]["n"] == 3 and cell["overall"]["accuracy"] == pytest.approx(2 / 3, abs=1e-4)


def test_error_taxonomy() -> None:
    wrong = Score(outcome="wrong", correct=False)
    assert error_class(Score(outcome="solved", correct=True)) is None
    assert error_class(Score(outcome="budget", correct=False)) == "budget"
    assert error_class(Score(outcome="unparseable", correct=False)) == "bad_parse"
    assert error_class(Score(outcome="refused", correct=False)) == "refused"
    assert error_class(wrong) == "wrong_value"
    trace = Trace(task_id="t", model="m", steps=[Step(skill="compare", thought="x",
                                                      tool_call=ToolCall(name="no_such_tool", args={}))])
    assert error_class(wrong, trace, frozenset({"describe_polymer"})) == "wrong_tool"
    assert error_class(wrong, trace.model_copy(update={"steps": [], "tool_errors": 1}),
                       frozenset({"describe_polymer"})) == "tool_error"


def test_report_files_and_compare_from_constructed_predictions(tmp_path) -> None:
    from eval.compare import CompareError, comparison
    from eval.report import PLOTS, write_report

    off = Cell(model="hf:smollm2", mode="standalone", cot=False)
    preds = [_pred("t1", True), _pred("t1", True, sub="a"), _pred("t2", False, category="property_prediction"),
             _pred("t1", False, cell=off), _pred("t2", False, cell=off, category="property_prediction")]
    meta = {"task_set_hash": "abc", "kb_version": "kb1", "prompt_version": "1", "models": ["hf:smollm2"]}
    for run in ("a", "b"):
        write_report(tmp_path / run, all_metrics(preds), {**meta, "kb_version": f"kb-{run}"})
    assert all((tmp_path / "a" / p).read_bytes()[:4] == b"\x89PNG" for p in PLOTS)
    report = (tmp_path / "a" / "report.md").read_text()
    assert "hf:smollm2 / standalone / cot on" in report and "+100.0" in report  # the CoT gain on t1
    text = comparison([tmp_path / "a", tmp_path / "b"])
    assert text.count("hf:smollm2 | standalone | cot on") == 2 and "differ in kb_version" in text
    with pytest.raises(CompareError, match="no metrics.json"):
        comparison([tmp_path])


def test_cli_refuses_bad_input_in_one_line(tmp_path) -> None:
    import typer
    from typer.testing import CliRunner

    from eval.run import main

    app = typer.Typer()
    app.command()(main)
    bad = CliRunner().invoke(app, ["--model", "hf:smollm2", "--cot", "maybe", "--out", str(tmp_path)])
    assert bad.exit_code == 1 and "error: --cot takes on and/or off" in bad.output
    missing = CliRunner().invoke(app, ["--model", "hf:smollm2", "--tasks", str(tmp_path / "none.jsonl"),
                                       "--out", str(tmp_path / "o")])
    assert missing.exit_code == 1 and "tasks file" in missing.output and "not found" in missing.output
    unknown = CliRunner().invoke(app, ["--model", "hf:smollm2", "--categories", "poetry", "--out", str(tmp_path)])
    assert unknown.exit_code == 1 and "unknown categories" in unknown.output


def test_adapter_and_baseline_gains_pair_cells_on_the_same_tasks() -> None:
    base = Cell(model="hf:smollm2", mode="standalone", cot=False)
    tuned = Cell(model="hf:smollm2+adapter:/runs/a/adapter", mode="standalone", cot=False)
    nn = Cell(model="baseline:nearest_neighbour", mode="baseline", cot=False)
    preds = ([_pred("t1", False, cell=base), _pred("t2", False, cell=base), _pred("t3", True, cell=base)]
             + [_pred("t1", True, cell=tuned), _pred("t2", True, cell=tuned), _pred("t3", True, cell=tuned)]
             + [_pred("t1", True, cell=nn), _pred("t2", False, cell=nn)])
    metrics = all_metrics(preds)["polybench"]
    gain = metrics["adapter_vs_base"][tuned.name]["all"]
    assert (gain["n"], gain["a"], gain["b"]) == (3, 1.0, pytest.approx(1 / 3, abs=1e-4))
    assert list(metrics["adapter_vs_base"]) == [tuned.name]          # the base itself is compared with nothing
    vs_nn = metrics["vs_baseline"][f"{tuned.name} vs {nn.model}"]["all"]
    assert (vs_nn["n"], vs_nn["gain"]) == (2, 0.5)                   # t3 was not asked of the baseline
    assert not any(k.startswith(nn.name) for k in metrics["vs_baseline"])
