"""The report of an eval run: metrics.json, report.md (paper-style tables) and PNG plots, from metrics.

`write_report(out_dir, metrics, meta)` writes all three; `markdown(metrics, meta)` is the text alone.
Accuracies are shown as percentages with their bootstrap 95 % interval.
"""

from __future__ import annotations

import json
from pathlib import Path

from agents.files import atomic_write_text
from agents.schema import CATEGORIES

SHORT = {"structural_understanding": "structural", "conceptual_knowledge": "conceptual",
         "property_prediction": "prediction", "property_comparison": "comparison",
         "advanced_reasoning": "reasoning", "synthesis_design": "design"}
PLOTS = ("accuracy_per_category.png", "gap_per_model.png", "cot_gain.png")


def _pct(entry: dict | None) -> str:
    if not entry or entry.get("accuracy") is None:
        return "–"
    ci = entry.get("ci95")
    band = f" [{ci[0] * 100:.0f}, {ci[1] * 100:.0f}]" if ci else ""
    return f"{entry['accuracy'] * 100:.1f}{band} (n={entry['n']})"


def _categories(bench: dict) -> list[str]:
    seen = {c for cell in bench["cells"].values() for c in cell["by_category"]}
    return [c for c in CATEGORIES if c in seen] + sorted(seen - set(CATEGORIES))


def _table(header: list[str], rows: list[list[str]]) -> str:
    header = [h.replace(" | ", " / ") for h in header]
    rows = [[c.replace(" | ", " / ") for c in r] for r in rows]  # cell names hold '|'
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows]) + "\n"


def _gain_table(gains: dict, cats: list[str], a: str, b: str, with_ci: bool = False) -> str:
    rows = []
    for name, per in gains.items():
        cells = []
        for c in [*cats, "all"]:
            g = per.get(c)
            ci = g and with_ci and g.get("ci95")
            band = f" [{ci[0] * 100:+.0f}, {ci[1] * 100:+.0f}]" if ci else ""
            cells.append("–" if g is None else f"{g['gain'] * 100:+.1f}{band} ({a} {g['a'] * 100:.0f} / "
                                               f"{b} {g['b'] * 100:.0f}, n={g['n']})")
        rows.append([name, *cells])
    return _table(["model", *[SHORT.get(c, c) for c in cats], "all"], rows)


def _bench_section(name: str, bench: dict) -> list[str]:
    cats = _categories(bench)
    cells = bench["cells"]
    out = [f"## Benchmark: {name}\n", "### Accuracy by category (%, bootstrap 95 % interval)\n",
           _table(["model | mode | CoT", *[SHORT.get(c, c) for c in cats], "overall"],
                  [[cn, *[_pct(m["by_category"].get(c)) for c in cats], _pct(m["overall"])] for cn, m in cells.items()])]
    if bench["cot_gain"]:
        out += ["### Chain of thought: on minus off (accuracy points, same tasks)\n",
                _gain_table(bench["cot_gain"], cats, "on", "off")]
    if bench["tools_vs_standalone"]:
        out += ["### Tools minus standalone (accuracy points, same tasks)\n",
                _gain_table(bench["tools_vs_standalone"], cats, "tools", "alone")]
    if bench.get("adapter_vs_base"):
        out += ["### Fine-tuned minus base model (accuracy points, same tasks; paired bootstrap 95 % interval)\n",
                _gain_table(bench["adapter_vs_base"], cats, "tuned", "base", with_ci=True)]
    if bench.get("vs_baseline"):
        out += ["### Minus the baseline (accuracy points, same tasks; paired bootstrap 95 % interval)\n",
                _gain_table(bench["vs_baseline"], cats, "model", "baseline", with_ci=True)]
    gap_rows = [[cn, *[("–" if (g := m["compositionality_gap"].get(c)) is None or g["gap"] is None else
                        f"{g['gap'] * 100:.0f}% ({g['main_wrong']}/{g['n_subs_right']})") for c in [*cats, "all"]]]
                for cn, m in cells.items()]
    out += ["### Compositionality gap (main answer wrong although every sub-question is right)\n",
            _table(["model | mode | CoT", *[SHORT.get(c, c) for c in cats], "all"], gap_rows)]
    skills = sorted({s for m in cells.values() for s in m["by_skill"]})
    if skills:
        out += ["### Sub-questions by skill (%, asked on their own or read from tool traces)\n",
                _table(["model | mode | CoT", *skills], [[cn, *[_pct(m["by_skill"].get(s)) for s in skills]]
                                                         for cn, m in cells.items()])]
    classes = sorted({c for m in cells.values() for c in m["errors"]} | {"unparseable", "refused"})
    out += ["### Outcomes and error taxonomy (main tasks)\n",
            _table(["model | mode | CoT", "read without 'Answer:'", "solved", "wrong", "unparseable", "refused",
                    "budget", "tool_error",
                    *[f"err:{c}" for c in classes if c not in ("unparseable", "refused")]],
                   [[cn, str(m.get("answered_without_answer_line", 0)), *[str(m["outcomes"].get(o, 0)) for o in ("solved", "wrong", "unparseable", "refused",
                                                                   "budget", "tool_error")],
                     *[str(m["errors"].get(c, 0)) for c in classes if c not in ("unparseable", "refused")]]
                    for cn, m in cells.items()])]
    design = [(cn, m["design"]) for cn, m in cells.items() if m["design"]]
    if design:
        out += ["### Design answers (verified = every constraint met on measured KB values; estimated apart)\n",
                _table(["model | mode | CoT", "n", "valid", "verified", "estimated only", "novel", "uniqueness"],
                       [[cn, *(str(d[k]) for k in ("n", "valid", "verified", "estimated_ok", "novel", "uniqueness"))]
                        for cn, d in design])]
    number_rows = [[cn, t, str(v["n"]), "–" if v["mae"] is None else f"{v['mae']:.4g} {v['unit']}",
                    _pct(v["within_tolerance"])] for cn, m in cells.items() for t, v in m["numbers"].items()]
    if number_rows:
        out += ["### Numbers: MAE in the canonical unit and within-tolerance accuracy\n",
                _table(["model | mode | CoT", "template", "n", "MAE", "within tolerance"], number_rows)]
    miss_rows = [[cn, ", ".join(f"{t} {n}" for t, n in sorted(m["misses_by_template"].items(), key=lambda x: -x[1]))]
                 for cn, m in cells.items() if m["misses_by_template"]]
    if miss_rows:
        out += ["### Misses by template\n", _table(["model | mode | CoT", "template: wrong main answers"], miss_rows)]
    return out


def markdown(metrics: dict, meta: dict) -> str:
    """report.md: provenance, then one section of tables per benchmark, then the plots."""
    head = ["# PolyBench evaluation\n",
            (f"- task set hash: `{meta.get('task_set_hash')}` ({meta.get('n_tasks')} main tasks, split "
             f"{meta.get('split')})"), f"- KB version: `{meta.get('kb_version')}`",
            f"- prompt version: `{meta.get('prompt_version')}`",
            f"- models: {', '.join(f'`{m}`' for m in meta.get('models', []))}",
            f"- predictions: {meta.get('n_predictions')} (predictions.jsonl)\n"]
    body = [line for name, bench in metrics.items() for line in _bench_section(name, bench)]
    plots = ["## Plots\n", *[f"![{p}]({p})\n" for p in PLOTS]]
    return "\n".join(head + body + plots)


def _save(fig, path: Path) -> None:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot(out_dir: Path, metrics: dict) -> list[Path]:
    """PNG plots of the PolyBench benchmark (else the first one): accuracy per category, gap, CoT gain."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    if not metrics:
        return []
    bench = metrics.get("polybench") or next(iter(metrics.values()))
    cats, cells = _categories(bench), bench["cells"]
    paths = []

    fig, ax = plt.subplots(figsize=(max(6, 1.6 * len(cats)), 4))
    width = 0.8 / max(len(cells), 1)
    for i, (name, m) in enumerate(cells.items()):
        acc = [(m["by_category"].get(c) or {}).get("accuracy") or 0 for c in cats]
        ax.bar(np.arange(len(cats)) + i * width, acc, width, label=name)
    ax.set_xticks(np.arange(len(cats)) + 0.4 - width / 2, [SHORT.get(c, c) for c in cats])
    ax.set_ylabel("accuracy"), ax.set_ylim(0, 1), ax.legend(fontsize=7)
    paths.append(out_dir / PLOTS[0])
    _save(fig, paths[-1])

    fig, ax = plt.subplots(figsize=(6, 4))
    names = list(cells)
    gaps = [(cells[n]["compositionality_gap"].get("all") or {}).get("gap") or 0 for n in names]
    ax.barh(names, gaps), ax.set_xlabel("compositionality gap (share of all-subs-right tasks answered wrong)")
    ax.set_xlim(0, 1)
    paths.append(out_dir / PLOTS[1])
    _save(fig, paths[-1])

    fig, ax = plt.subplots(figsize=(max(6, 1.6 * len(cats)), 4))
    gains = bench["cot_gain"]
    width = 0.8 / max(len(gains), 1)
    for i, (name, per) in enumerate(gains.items()):
        ax.bar(np.arange(len(cats)) + i * width, [(per.get(c) or {}).get("gain") or 0 for c in cats], width, label=name)
    ax.axhline(0, color="black", linewidth=0.5)
    ax.set_xticks(np.arange(len(cats)) + 0.4 - width / 2, [SHORT.get(c, c) for c in cats])
    ax.set_ylabel("CoT on - off (accuracy)")
    if gains:
        ax.legend(fontsize=7)
    else:
        ax.set_title("no CoT on/off pair in this run")
    paths.append(out_dir / PLOTS[2])
    _save(fig, paths[-1])
    return paths


def write_report(out_dir: Path, metrics: dict, meta: dict) -> None:
    """metrics.json (meta + metrics), report.md and the plots, each written whole."""
    out_dir = Path(out_dir)
    atomic_write_text(out_dir / "metrics.json", json.dumps({"meta": meta, "benchmarks": metrics}, indent=1,
                                                           sort_keys=False) + "\n")
    plot(out_dir, metrics)
    atomic_write_text(out_dir / "report.md", markdown(metrics, meta))
