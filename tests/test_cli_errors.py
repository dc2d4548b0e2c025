"""Every CLI answers bad input with one `error:` line per problem on stderr, exit status 1, no traceback,
and leaves no half-written final output."""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], check=False, cwd=cwd, capture_output=True, text=True,
                          timeout=600)


def assert_one_line_error(result: subprocess.CompletedProcess, needle: str, lines: int = 1) -> None:
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "Traceback" not in output, output
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(errors) == lines and all(e.startswith("error: ") for e in errors), output
    assert needle in result.stderr, output


@pytest.fixture(scope="module")
def a_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "a_file.txt"
    path.write_text("not a folder\n")
    return path


@pytest.mark.parametrize(("args", "needle"), [
    (["kb.query", ""], "no SQL statement given"),
    (["kb.query", "SELECT 1", "--limit", "-1"], "--limit must be >= 0"),
    (["kb.query", "SELEC 1"], "the SQL does not parse"),
    (["kb.query", "SELECT 1", "--kb-dir", "/nonexistent/kb"], "no knowledge base at"),
    (["kb.stats", "--kb-dir", "/nonexistent/kb"], "no knowledge base at"),
    (["kb.build", "--max-rows", "0", "--kb-dir", "/nonexistent/kb"], "max_rows: Input should be greater than"),
])
def test_kb_clis_refuse_bad_input_in_one_line(args, needle):
    assert_one_line_error(run_cli(*args), needle)


def test_kb_query_help_says_it_is_the_owners_unrestricted_duckdb():
    text = " ".join(run_cli("kb.query", "--help").stdout.split()).lower()
    assert "never for agents or chat users" in text and "copy writes files" in text


def test_kb_build_into_a_file_or_from_a_missing_mirror(a_file, tmp_path):
    assert_one_line_error(run_cli("kb.build", "--kb-dir", str(a_file)), "is a file, not a folder")
    assert_one_line_error(run_cli("kb.build", "--kb-dir", str(tmp_path / "kb"), "--data-dir", str(tmp_path)),
                          "is not in the mirror")


def test_corrupt_gz_and_md5_mismatch_are_one_line(data_dir, tmp_path):
    gz = "smipoly/SMiPoly_001_generatedPolymer.csv.gz"
    mirror = tmp_path / "mirror"
    (mirror / gz).parent.mkdir(parents=True)
    (mirror / gz).write_bytes(gzip.compress(b"polym\n*CC*\n")[:-12])  # cut: a corrupt gzip stream
    result = run_cli("kb.build", "--kb-dir", str(tmp_path / "kb"), "--data-dir", str(mirror), "--source", gz)
    assert_one_line_error(result, "is not a readable gzip file")
    csv = "polymer_genome_mmpolymer/EPS.csv"
    (mirror / csv).parent.mkdir(parents=True)
    shutil.copy(data_dir / csv, mirror / csv)
    with open(mirror / csv, "a") as fh:
        fh.write("*CC*,2.2\n")
    deep = tmp_path / ("a_rather_long_folder_name_" * 6)
    shutil.copytree(mirror, deep)
    result = run_cli("kb.build", "--kb-dir", str(tmp_path / "kb"), "--data-dir", str(deep), "--source", csv)
    assert_one_line_error(result, "md5 mismatch for")


@pytest.mark.parametrize(("args", "needle", "lines"), [
    (["--scale", "inf"], "scale: Input should be a finite number", 1),
    (["--scale", "0"], "scale: Input should be greater than 0", 1),
    (["--difficulty", "99"], "difficulties.0: Input should be less than or equal to 5", 1),
    (["--config", "/nonexistent/config.json"], "does not exist", 1),
    (["--template", "no_such_template"], "unknown templates", 1),
])
def test_taskgen_refuses_bad_flags(small_kb, small_kb_config, tmp_path, args, needle, lines):
    out = tmp_path / "tasks"
    result = run_cli("agents.taskgen", "--kb-dir", str(small_kb_config.kb_dir), "--out", str(out), *args)
    assert_one_line_error(result, needle, lines)
    assert not (out / "tasks.jsonl").exists() and not (out / "hf").exists()


@pytest.mark.parametrize(("content", "needle"), [
    ("{not json", "is not valid JSON"),
    ('["a", "list"]', "must hold a mapping of settings, not a list"),
    ('{"scale": 0.01, "colour": "red"}', "colour: unknown setting"),
])
def test_taskgen_refuses_bad_config_files(tmp_path, content, needle):
    config = tmp_path / "config.json"
    config.write_text(content)
    assert_one_line_error(run_cli("agents.taskgen", "--config", str(config), "--out", str(tmp_path / "t")), needle)
    assert_one_line_error(run_cli("agents.taskgen", "--config", str(tmp_path), "--out", str(tmp_path / "t")),
                          "is not a file")


def test_taskgen_out_is_a_file_or_selects_nothing(small_kb, small_kb_config, a_file, tmp_path):
    assert_one_line_error(run_cli("agents.taskgen", "--kb-dir", str(small_kb_config.kb_dir), "--out", str(a_file)),
                          "is a file, not a folder")
    out = tmp_path / "tasks"
    config = tmp_path / "c.json"
    config.write_text(json.dumps({"per_category": {"structural_understanding": 10}, "difficulties": [5],
                                  "scale": 0.001, "n_jobs": 1}))
    result = run_cli("agents.taskgen", "--kb-dir", str(small_kb_config.kb_dir), "--out", str(out),
                     "--config", str(config))
    assert_one_line_error(result, "no task matched the selection")
    assert sorted(p.name for p in out.iterdir()) == ["jobs"]  # only the resumable job cache, no final file
