"""Distilled traces -> versioned chat-example files: the data stage; training only reads what this writes.

    python -m training.prepare --traces .polybench/distill --out .polybench/sft
    python -m training.prepare --traces .polybench/distill-train --traces .polybench/distill-dev --out DIR

Reads every DIR/traces/shard-*.jsonl (agents.distill), keeps the records marked kept, and writes one file per
variant and split, `<variant>.<split>.jsonl` (cot / direct / tools x train / dev), sorted by id, plus
`manifest.json` with each file's sha256, row counts by category, the source shards' hashes, what was skipped
and why, and `data_hash` (one hash over all files). Train examples come from train-split tasks and dev examples
from dev-split tasks only; test-split records are never written. The folder is staged and swapped whole.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from agents.solver.prompts import PROMPT_VERSION
from kb.errors import PolyBenchError
from training.examples import EXAMPLE_SCHEMA_VERSION, VARIANTS, ChatExample, build_example, read_record

MANIFEST = "manifest.json"
MANIFEST_VERSION = 1
SPLITS = ("train", "dev")


class PrepareError(PolyBenchError, ValueError):
    """Distill output that cannot be turned into training data, or prepared data that fails its check."""


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def shard_paths(traces_dirs: list[Path]) -> list[Path]:
    """The distill shards under each folder (DIR/traces/shard-*.jsonl), in a stable order."""
    paths: list[Path] = []
    for folder in traces_dirs:
        found = sorted((Path(folder) / "traces").glob("shard-*.jsonl"))
        if not found:
            raise PrepareError(f"{folder}: no traces/shard-*.jsonl (run python -m agents.distill --out {folder})")
        paths += found
    return paths


def collect_examples(paths: list[Path], variants: tuple[str, ...]) -> tuple[dict[str, list[ChatExample]], Counter]:
    """Examples per '<variant>.<split>' file name, and counts of what was read and skipped (with reasons)."""
    files: dict[str, list[ChatExample]] = {f"{v}.{s}": [] for v in variants for s in SPLITS}
    counts: Counter = Counter()
    seen: set[str] = set()
    for path in paths:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            counts["records"] += 1
            try:
                record = read_record(line)
            except (ValidationError, ValueError) as exc:
                raise PrepareError(f"{path}:{number}: not a distill record ({str(exc).splitlines()[0]})") from None
            if not record.kept:
                counts[f"rejected:{record.reject_reason or 'unknown'}"] += 1
                continue
            if record.task.id in seen:
                counts["duplicate"] += 1
                continue
            seen.add(record.task.id)
            if record.task.split not in SPLITS:
                counts[f"skipped:{record.task.split}-split"] += 1
                continue
            counts["kept"] += 1
            for variant in variants:
                try:
                    example = build_example(record, variant)
                except ValueError:
                    counts[f"unusable:{variant}"] += 1
                    continue
                files[f"{variant}.{record.task.split}"].append(example)
    return files, counts


def write_prepared(out: Path, files: dict[str, list[ChatExample]], counts: Counter, sources: list[Path]) -> dict:
    """Stage the files and manifest in a sibling folder, then swap it in whole; the manifest is returned."""
    out = Path(out)
    stage = out.with_name(f".{out.name}.staging")
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir(parents=True)
    entries = {}
    for name, examples in sorted(files.items()):
        examples = sorted(examples, key=lambda e: e.id)
        path = stage / f"{name}.jsonl"
        path.write_text("".join(e.model_dump_json() + "\n" for e in examples), encoding="utf-8")
        entries[path.name] = {"sha256": sha256_file(path), "rows": len(examples),
                              "by_category": dict(sorted(Counter(e.category for e in examples).items()))}
    data_hash = hashlib.sha256(json.dumps({k: v["sha256"] for k, v in entries.items()},
                                          sort_keys=True).encode()).hexdigest()
    manifest = {"manifest_version": MANIFEST_VERSION, "example_schema_version": EXAMPLE_SCHEMA_VERSION,
                "prompt_version": PROMPT_VERSION, "data_hash": data_hash, "files": entries,
                "counts": dict(sorted(counts.items())),
                "sources": [{"path": str(p), "sha256": sha256_file(p)} for p in sources]}
    (stage / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    old = out.with_name(f".{out.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if out.exists():
        out.replace(old)
    stage.replace(out)
    shutil.rmtree(old, ignore_errors=True)
    return manifest


def prepare(traces_dirs: list[Path], out: Path, variants: tuple[str, ...] = VARIANTS) -> dict:
    """Read distill shards, write the prepared folder, return its manifest."""
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        raise PrepareError(f"unknown variant(s) {', '.join(unknown)}; use {', '.join(VARIANTS)}")
    paths = shard_paths(traces_dirs)
    files, counts = collect_examples(paths, variants)
    return write_prepared(out, files, counts, paths)


@dataclass(frozen=True)
class PreparedData:
    """The examples of one variant, read back after checking every file against the manifest."""

    train: list[ChatExample]
    dev: list[ChatExample]
    data_hash: str
    manifest: dict


def read_prepared(data_dir: Path, variant: str) -> PreparedData:
    """Train and dev examples of one variant, or of several joined by '+' (cot+direct); PrepareError when a
    file is missing or its hash has changed."""
    data_dir = Path(data_dir)
    manifest_path = data_dir / MANIFEST
    if not manifest_path.exists():
        raise PrepareError(f"{data_dir} has no {MANIFEST} (run python -m training.prepare --out {data_dir})")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    if manifest.get("example_schema_version") != EXAMPLE_SCHEMA_VERSION:
        raise PrepareError(f"{data_dir}: example schema {manifest.get('example_schema_version')} is not "
                           f"{EXAMPLE_SCHEMA_VERSION}; prepare the data again")
    splits: dict[str, list[ChatExample]] = {split: [] for split in SPLITS}
    for part in variant.split("+"):
        for split in SPLITS:
            splits[split] += _read_file(data_dir, manifest, f"{part}.{split}.jsonl")
    return PreparedData(train=splits["train"], dev=splits["dev"], data_hash=manifest["data_hash"], manifest=manifest)


def _read_file(data_dir: Path, manifest: dict, name: str) -> list[ChatExample]:
    """The examples of one prepared file, after checking it against the manifest."""
    entry = manifest["files"].get(name)
    path = data_dir / name
    if entry is None or not path.exists():
        raise PrepareError(f"{data_dir}: no {name} (prepared variants: "
                           f"{', '.join(sorted({k.split('.')[0] for k in manifest['files']}))})")
    if sha256_file(path) != entry["sha256"]:
        raise PrepareError(f"{path}: content differs from the manifest's sha256; prepare the data again")
    return [ChatExample.model_validate_json(line)
            for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.prepare", description=__doc__.splitlines()[0])
    parser.add_argument("--traces", type=Path, action="append", required=True,
                        help="a distill output folder (holds traces/shard-*.jsonl); repeat for several")
    parser.add_argument("--out", type=Path, required=True, help="folder to write the prepared data to")
    parser.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated: cot,direct,tools")
    args = parser.parse_args(argv)
    try:
        manifest = prepare(args.traces, args.out, tuple(v.strip() for v in args.variants.split(",") if v.strip()))
    except PolyBenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    rows = ", ".join(f"{name} {entry['rows']}" for name, entry in manifest["files"].items())
    print(f"wrote {args.out}: {rows}; data_hash {manifest['data_hash'][:12]}")
    skipped = {k: v for k, v in manifest["counts"].items() if k not in ("records", "kept") and v}
    if skipped:
        print("skipped: " + ", ".join(f"{k} {v}" for k, v in skipped.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
