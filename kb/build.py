"""Build the polymer knowledge base from the source mirror into a DuckDB file plus FAISS indexes.

    python -m kb.build                                  # all sources, ../shared/data -> .polybench/kb
    python -m kb.build --max-rows 300 --kb-dir /tmp/kb  # a small KB (first 300 rows of every source)

Incremental: when the manifest, every source md5 and the code version are unchanged the build is a
no-op; otherwise unchanged sources come from the cache and only new structures are canonicalised,
featurised and indexed. The new KB (DuckDB file, FAISS indexes, structure index) is written to `staging/`
and swapped in whole, so an interrupted build never leaves a half-written KB that looks complete.
Killed builds resume: structures and features are checkpointed to the cache every CHECKPOINT_EVERY
units, the next run removes what the killed one left (`staging/`, `old/`, temp files; an `old/` without
a `current/` is the last good KB and is put back), and worker processes die with the build.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import duckdb
import numpy as np
import pandas as pd
import typer

from kb import caches
from kb.assemble import Tables, add_source, measurements_frame, polymers_frame
from kb.cli import checked_out_dir, fail
from kb.config import DEFAULT_DATA_DIR, DEFAULT_KB_DIR, BuildConfig, KBPaths
from kb.errors import KBNotBuiltError, PolyBenchError
from kb.families import family_labels, family_links
from kb.manifest import SourceFile, load_manifest, resolve
from kb.readers import SourceRows, read_source
from kb.store import DDL, DERIVED_TABLES, connect_read_only
from kb.structure_index import build_structure_index, index_folder, rank_groups
from kb.text_docs import text_docs
from kb.versions import code_fingerprint, kb_content_hash, library_versions
from kb.workers import die_with_parent, job_parent_pid, mark_job_parent

log = logging.getLogger(__name__)
ProgressFn = Callable[[str, int, int], None]  # stage, done, total
CODE_VERSION = "kb-4"  # kb-4: polymers sharing a name, source row or DOI entry share a split
CHECKPOINT_EVERY = 100_000  # structures canonicalised / featurised between two cache saves


@dataclass
class BuildReport:
    """What a build did: per-source accounting, sizes, and seconds per stage."""

    kb_version: str
    up_to_date: bool
    db_path: str
    sources: list[dict] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


def _kb_version(files: list[SourceFile], md5s: list[str], config: BuildConfig) -> str:
    """The build key: inputs, config, our KB code and the library versions that shape the content.

    Equal keys make a rebuild a no-op. The KB's published version (`kb_version`) is the hash of what the
    build wrote (kb.versions.kb_content_hash), so two different KBs never share a version.
    """
    blob = json.dumps([CODE_VERSION, caches.CACHE_VERSION, code_fingerprint("kb"), library_versions(),
                       [f.model_dump(mode="json") for f in files], md5s, config.max_rows, config.text_index,
                       config.seed], sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _current_version(paths: KBPaths) -> str | None:
    """The build key of the KB in place (None when there is none, or it predates build keys)."""
    try:
        con = connect_read_only(paths.db)
    except KBNotBuiltError:
        return None
    try:
        row = con.execute("SELECT value FROM build_info WHERE key = 'build_key'").fetchone()
        return row[0] if row else None
    finally:
        con.close()


def _limited(rows: SourceRows, max_rows: int | None) -> SourceRows:
    """The first max_rows records of a source, with their values and rejections."""
    if max_rows is None or rows.rows_read <= max_rows:
        return rows
    return SourceRows(max_rows, rows.rows[rows.rows["row_index"] < max_rows].reset_index(drop=True),
                      rows.values[rows.values["row_index"] < max_rows].reset_index(drop=True),
                      [r for r in rows.rejections if r.row_index < max_rows])


def _parsed_sources(config: BuildConfig, files: list[SourceFile], md5s: list[str],
                    progress: ProgressFn) -> list[SourceRows]:
    out = []
    for i, (src, md5) in enumerate(zip(files, md5s)):
        key = caches.source_cache_key(src, md5)
        parsed = caches.load_source_rows(config.paths.cache, key)
        if parsed is None:
            parsed = read_source(src, resolve(src, config.data_dir, _download_dir(config))[0])
            caches.save_source_rows(config.paths.cache, key, parsed)
        out.append(_limited(parsed, config.max_rows))
        progress("read sources", i + 1, len(files))
    return out


def _counter(progress: ProgressFn, stage: str, total: int) -> Callable[[int], None]:
    """A callback for batch workers that report increments: it forwards the running total."""
    done = [0]

    def tick(n: int) -> None:
        done[0] += n
        progress(stage, done[0], total)

    return tick


def _download_dir(config: BuildConfig) -> Path | None:
    return config.paths.root / "downloads" if config.download else None


def _repeat_units(strings: list[str], config: BuildConfig, progress: ProgressFn) -> pd.DataFrame:
    """key, status, n_attachments, reason for every distinct structure string, indexed by it (cached)."""
    from kb.repeat_unit import RepeatUnit, batch_to_repeat_units

    version = caches.code_key("kb/repeat_unit.py")
    cache = caches.FrameCache(config.paths.cache / f"repeat_units-{version}.parquet", "raw")
    known, missing = cache.lookup(strings)
    tick = _counter(progress, "repeat units", len(missing))
    news = []
    for batch in _batches(missing):  # saved batch by batch: a killed build resumes after the last one
        results = batch_to_repeat_units(batch, n_jobs=config.n_jobs, progress=tick)
        news.append(pd.DataFrame({
            "raw": batch,
            "key": [r.key if isinstance(r, RepeatUnit) else None for r in results],
            "status": [r.status if isinstance(r, RepeatUnit) else None for r in results],
            "n_attachments": [r.n_attachments if isinstance(r, RepeatUnit) else None for r in results],
            "reason": [None if isinstance(r, RepeatUnit) else r for r in results],
        }).astype({"n_attachments": "Int64"}))
        cache.add(news[-1])
    new = pd.concat(news, ignore_index=True) if news else pd.DataFrame(
        columns=["raw", "key", "status", "n_attachments", "reason"])
    frames = [f for f in (known, new) if f is not None and len(f)]
    units = pd.concat(frames, ignore_index=True) if frames else new
    return units.drop_duplicates("raw").set_index("raw")


def _features(keys: list[str], config: BuildConfig, progress: ProgressFn) -> pd.DataFrame:
    """Feature columns + packed fingerprint per key (cached); a unit that fails keeps NULL features."""
    from kb.features import batch_featurize

    version = caches.code_key("kb/features.py", "kb/repeat_unit.py")
    cache = caches.FrameCache(config.paths.cache / f"features-{version}.parquet", "key")
    known, missing = cache.lookup(keys)
    tick = _counter(progress, "features", len(missing))
    for batch in _batches(missing):  # saved batch by batch: a killed build resumes after the last one
        frame, fps, reasons = batch_featurize(batch, n_jobs=config.n_jobs, progress=tick)
        frame = frame.reset_index(drop=True)
        frame.insert(0, "key", batch)
        frame["morgan"] = fps
        frame["feature_error"] = reasons
        cache.add(frame)
        known = frame if known is None else pd.concat([known, frame], ignore_index=True)
    return known


def _batches(items: list[str]) -> list[list[str]]:
    """Checkpoint-sized slices of a work list."""
    return [items[i : i + CHECKPOINT_EVERY] for i in range(0, len(items), CHECKPOINT_EVERY)]


def _write_db(path, tables: Tables, polymers: pd.DataFrame, features: pd.DataFrame, info: dict) -> str:
    """Write every table, then build_info with the content hash as `kb_version` (returned), `complete` last."""
    con = duckdb.connect(str(path))
    try:
        con.execute(DDL)
        from kb.properties import PROPERTIES

        props = pd.DataFrame([{"name": p.name, "unit": p.unit, "description": p.description,
                               "min_value": p.min_value, "max_value": p.max_value, "higher_is": p.higher_is}
                              for p in PROPERTIES.values()])
        measurements = measurements_frame(tables)
        frames = {
            "sources": pd.DataFrame(tables.sources), "properties": props,
            "polymers": polymers[["polymer_id", "key", "status", "n_attachments", "name", "split", "cluster_id",
                                  "n_measurements"]],
            "polymer_names": pd.concat(tables.names, ignore_index=True).drop_duplicates() if tables.names else None,
            "measurements": measurements if len(measurements) else None,
            "fingerprints": features.loc[features["morgan"].notna(), ["polymer_id", "morgan"]],
            "monomers": tables.monomers,
            "polymer_monomers": pd.concat(tables.links, ignore_index=True) if tables.links else None,
            "quarantine": pd.concat(tables.quarantine, ignore_index=True) if tables.quarantine else None,
        }
        for name, frame in frames.items():
            if frame is None or frame.empty:
                continue
            cols = ", ".join(f'"{c}"' for c in frame.columns)
            con.register("frame_view", frame)
            con.execute(f"INSERT INTO {name} ({cols}) SELECT {cols} FROM frame_view")
            con.unregister("frame_view")
        feature_cols = features.drop(columns=["key", "morgan"])
        con.register("frame_view", feature_cols)
        con.execute("CREATE TABLE features AS SELECT * FROM frame_view ORDER BY polymer_id")
        con.unregister("frame_view")
        con.execute(DERIVED_TABLES)
        info = {"kb_version": kb_content_hash(con), **info}
        info_rows = pd.DataFrame({"key": list(info), "value": [str(v) for v in info.values()]})
        con.register("frame_view", info_rows)
        con.execute("INSERT INTO build_info SELECT * FROM frame_view")
        con.execute("INSERT INTO build_info VALUES ('complete', 'true')")  # last: marks a finished KB
        con.execute("CHECKPOINT")
    finally:
        con.close()
    return info["kb_version"]


def _swap_in(paths: KBPaths) -> None:
    """Replace `current/` by `staging/`; a crash in between leaves no `current/`, never a mixed one."""
    old = paths.root / "old"
    shutil.rmtree(old, ignore_errors=True)
    if paths.current.exists():
        paths.current.rename(old)
    paths.staging.rename(paths.current)
    shutil.rmtree(old, ignore_errors=True)


def _recover(paths: KBPaths) -> None:
    """Undo what a killed build left: put back `old/` when it is the only KB, drop stale folders and temps."""
    old = paths.root / "old"
    if old.is_dir() and not paths.current.exists() and (old / "polybench.duckdb").exists():
        log.warning("restoring %s: a build was killed while swapping in a new KB", old)
        old.rename(paths.current)
    for stale in (old, paths.staging):
        shutil.rmtree(stale, ignore_errors=True)
    for tmp in [*paths.cache.glob("*.tmp"), *paths.cache.glob("sources/*.tmp"),
                *paths.current.glob("structure_index/*.tmp*")]:
        shutil.rmtree(tmp, ignore_errors=True) if tmp.is_dir() else tmp.unlink(missing_ok=True)


def _family_or_hash_split(polymers: pd.DataFrame, families: np.ndarray) -> pd.Series:
    """Splits for polymers without a fingerprint (featurisation failed): their family's split when a
    member has one, else a stable hash of the id (polymers rows align with `families`)."""
    split = polymers["split"].copy()
    unsplit = split.isna().to_numpy()
    if not unsplit.any():
        return split
    by_family = dict(zip(families[~unsplit & (families >= 0)], split[~unsplit & (families >= 0)]))
    hashed = polymers["polymer_id"].map(lambda pid: "train" if pid % 10 < 8 else "dev" if pid % 10 == 8 else "test")
    for i in np.flatnonzero(unsplit):
        split.iat[i] = by_family.get(families[i], hashed.iat[i])
    return split


def _polymer_table(polymers: pd.DataFrame, features: pd.DataFrame) -> pd.DataFrame:
    """(polymer_id, key, status, group, heavy) of every polymer, what the structure index is built from."""
    heavy = features.set_index("polymer_id")["heavy_atoms"].reindex(polymers["polymer_id"]).to_numpy()
    fallback = polymers["key"].str.len().to_numpy()
    return pd.DataFrame({"polymer_id": polymers["polymer_id"].to_numpy(np.int64), "key": polymers["key"].to_numpy(),
                         "status": polymers["status"].to_numpy(),
                         "group": rank_groups(polymers["split"], polymers["n_measurements"]),
                         "heavy": np.where(pd.isna(heavy), fallback, heavy).astype(np.int64)})


def _index_structures(paths: KBPaths, release: Path, polymers: pd.DataFrame, features: pd.DataFrame,
                      n_jobs: int, progress: ProgressFn) -> int:
    """Build the structure index of a release folder (per-key entries cached across builds)."""
    folder = index_folder(release)
    folder.parent.mkdir(parents=True, exist_ok=True)
    table = _polymer_table(polymers, features)
    cache_file = paths.cache / f"{folder.parent.name}_{folder.name}.parquet"
    return build_structure_index(table, folder, cache_file, n_jobs,
                                 _counter(progress, "structure index", len(table)))


def _ensure_structure_index(paths: KBPaths, n_jobs: int, progress: ProgressFn) -> bool:
    """Add the structure index to an up-to-date KB that lacks it (built by older code); True if built."""
    if (index_folder(paths.current) / "arrays.npz").exists():
        return False
    con = connect_read_only(paths.db)
    try:
        polymers = con.execute("SELECT polymer_id, key, status, split, n_measurements FROM polymers").df()
        features = con.execute("SELECT polymer_id, heavy_atoms FROM features").df()
    finally:
        con.close()
    _index_structures(paths, paths.current, polymers, features, n_jobs, progress)
    return True


def build_kb(config: BuildConfig, progress: ProgressFn | None = None) -> BuildReport:
    """Build (or confirm up to date) the KB described by `config`; returns what was done."""
    progress = progress or (lambda stage, done, total: None)
    paths, timings, t0 = config.paths, {}, time.perf_counter()

    def lap(stage: str, start: float) -> float:
        now = time.perf_counter()
        timings[stage] = round(now - start, 3)
        return now

    checked_out_dir(paths.root, "KB folder")
    _recover(paths)
    files = load_manifest().select(config.sources)
    md5s = [resolve(f, config.data_dir, _download_dir(config))[1] for f in files]
    build_key = _kb_version(files, md5s, config)
    t = lap("verify md5", t0)
    if not config.force and _current_version(paths) == build_key:
        if _ensure_structure_index(paths, config.n_jobs, progress):
            lap("structure index", t)
        con = connect_read_only(paths.db)
        try:
            version = con.execute("SELECT value FROM build_info WHERE key = 'kb_version'").fetchone()[0]
        finally:
            con.close()
        return BuildReport(version, True, str(paths.db), seconds=timings)
    parsed = _parsed_sources(config, files, md5s, progress)
    t = lap("read sources", t)
    polymer_strings = sorted({s for f, p in zip(files, parsed) if f.reader != "smipoly_monomers"
                              for s in p.rows["smiles"]})
    units = _repeat_units(polymer_strings, config, progress)
    t = lap("repeat units", t)
    tables = Tables()
    order = sorted(range(len(files)), key=lambda i: files[i].reader != "smipoly_monomers")  # monomers first
    for i in order:
        add_source(tables, files[i], md5s[i], parsed[i], units)
    polymers = polymers_frame(tables)
    t = lap("assemble", t)
    features = _features(polymers["key"].tolist(), config, progress)
    features = polymers[["polymer_id", "key"]].merge(features.drop_duplicates("key"), on="key", how="left")
    t = lap("features", t)
    from kb.splits import assign_splits

    has_fp = features["morgan"].notna().to_numpy()
    fps = np.frombuffer(b"".join(features.loc[has_fp, "morgan"]), dtype=np.uint8).reshape(-1, 256)
    ids = features.loc[has_fp, "polymer_id"].to_numpy(dtype=np.int64)
    measured = polymers.set_index("polymer_id").loc[ids, "n_measurements"].to_numpy() > 0
    names = pd.concat(tables.names, ignore_index=True) if tables.names else pd.DataFrame(columns=["polymer_id", "name"])
    families = family_labels(polymers["polymer_id"].to_numpy(), family_links(names, measurements_frame(tables)))
    split, cluster = assign_splits(ids, fps, measured, seed=config.seed, families=families[has_fp])
    polymers = polymers.merge(pd.DataFrame({"polymer_id": ids, "split": split, "cluster_id": cluster}),
                              on="polymer_id", how="left")
    polymers["split"] = _family_or_hash_split(polymers, families)
    t = lap("splits", t)
    shutil.rmtree(paths.staging, ignore_errors=True)
    paths.staging.mkdir(parents=True)
    from kb.fp_index import FingerprintIndex

    FingerprintIndex.build(ids, fps).save(paths.staging / "fp_index")
    t = lap("fingerprint index", t)
    if config.text_index:
        from kb.text_index import Embedder, TextIndex

        docs = text_docs(polymers, tables, features)
        TextIndex.build(docs, Embedder(), cache_dir=paths.cache / "embeddings",
                        progress=_counter(progress, "text index", len(docs))).save(paths.staging / "text_index")
        t = lap("text index", t)
    _index_structures(paths, paths.staging, polymers, features, config.n_jobs, progress)
    t = lap("structure index", t)
    info = {"build_key": build_key, "library_versions": json.dumps(library_versions(), sort_keys=True),
            "schema_version": 1, "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "n_jobs": config.n_jobs, "max_rows": config.max_rows, "data_dir": str(config.data_dir),
            "timings": json.dumps(timings)}
    version = _write_db(paths.staging / "polybench.duckdb", tables, polymers, features.drop(columns=["feature_error"]),
                        info)
    t = lap("write duckdb", t)
    _swap_in(paths)
    timings["total"] = round(time.perf_counter() - t0, 3)
    counts = {"polymers": len(polymers), "measurements": int(sum(len(m) for m in tables.measurements)),
              "quarantined_rows": int(sum(s["rows_quarantined"] for s in tables.sources)),
              "quarantined_values": int(sum(s["values_quarantined"] for s in tables.sources))}
    return BuildReport(version, False, str(paths.db), tables.sources, counts, timings)


def main(
    data_dir: Annotated[Path, typer.Option(help="local mirror of the source files")] = DEFAULT_DATA_DIR,
    kb_dir: Annotated[Path, typer.Option(help="where the KB is written")] = DEFAULT_KB_DIR,
    jobs: Annotated[int, typer.Option(help="worker processes (default: all cores)")] = 0,
    download: Annotated[bool, typer.Option(help="download files missing from the mirror (md5-checked)")] = False,
    source: Annotated[list[str] | None, typer.Option(help="ingest only these source ids (repeatable)")] = None,
    max_rows: Annotated[int | None, typer.Option(help="first N rows of every source (a small KB)")] = None,
    text_index: Annotated[bool, typer.Option(help="build the MiniLM text index")] = True,
    force: Annotated[bool, typer.Option(help="rebuild even when nothing changed")] = False,
) -> None:
    """Build the KB (DuckDB + FAISS) from the source mirror, then print its statistics."""
    from pydantic import ValidationError
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from kb.layered_config import config_error_lines
    from kb.stats import kb_stats, render

    mark_job_parent()
    console = Console(width=None if sys.stdout.isatty() else 160)
    try:
        config = BuildConfig(data_dir=data_dir, kb_dir=kb_dir, download=download, sources=source or None,
                             max_rows=max_rows, text_index=text_index, force=force,
                             **({"n_jobs": jobs} if jobs else {}))
    except ValidationError as exc:
        fail("\n".join(config_error_lines(exc)))
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("faiss").setLevel(logging.WARNING)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=True) as bars:
        tasks: dict[str, int] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bars.add_task(stage, total=total)
            bars.update(tasks[stage], completed=done, total=total)

        try:
            report = build_kb(config, progress)
        except (PolyBenchError, OSError) as exc:  # bad input or an unusable folder: one line, no traceback
            bars.stop()
            fail(exc)
    if report.up_to_date:
        console.print(f"KB {report.kb_version} is up to date ({report.db_path}); nothing to do "
                      f"({report.seconds.get('verify md5', 0):.2f} s)")
    else:
        console.print(f"built KB {report.kb_version} at {report.db_path} in {report.seconds['total']:.1f} s: "
                      + ", ".join(f"{k} {v:.1f}s" for k, v in report.seconds.items() if k != "total"))
    render(kb_stats(Path(report.db_path)), console)


if __name__ == "__main__":
    typer.run(main)
elif __name__ == "__mp_main__":  # a worker that `python -m kb.build` spawned (kb.features / repeat_unit pools)
    die_with_parent(job_parent_pid())
