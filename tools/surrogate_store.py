"""Saving and loading surrogate models, one folder per KB version; models of another version are refused.

Layout: <kb_dir>/models/surrogates/<kb_version>/ holds <property>__<kind>.joblib (the SurrogateModel) and
<property>__<kind>.json (its card), and index.json (kb_version, training config, model names), written last:
a folder without index.json is unfinished and is never loaded.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import joblib

from kb.errors import PolyBenchError
from kb.store import connect_read_only
from tools.surrogate_model import SCHEMA_VERSION, ModelCard, SurrogateModel

INDEX_FILE = "index.json"


class StaleModelError(PolyBenchError):
    """Models on disk were trained on another KB version (or are missing): retrain them."""


def models_dir_of(kb_dir: Path, kb_version: str) -> Path:
    """Default folder of the surrogate models trained on one KB version."""
    return Path(kb_dir) / "models" / "surrogates" / kb_version


def kb_version_of(db_path: Path) -> str:
    """The kb_version recorded in a finished KB's build_info."""
    con = connect_read_only(db_path)
    try:
        row = con.execute("SELECT value FROM build_info WHERE key = 'kb_version'").fetchone()
    finally:
        con.close()
    if row is None:
        raise PolyBenchError(f"{db_path} has no kb_version in build_info; rebuild it")
    return str(row[0])


def save_models(models: list[SurrogateModel], folder: Path, kb_version: str, config: dict[str, Any]) -> None:
    """Write each model (joblib) and card (JSON), then index.json last: a folder without it is unfinished."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / INDEX_FILE).unlink(missing_ok=True)
    for model in models:
        joblib.dump(model, folder / f"{model.card.name}.joblib", compress=1)
        (folder / f"{model.card.name}.json").write_text(model.card.model_dump_json(indent=1))
    index = {"schema_version": SCHEMA_VERSION, "kb_version": kb_version, "config": config,
             "models": sorted(m.card.name for m in models)}
    (folder / INDEX_FILE).write_text(json.dumps(index, indent=1))


def read_index(folder: Path) -> dict[str, Any] | None:
    """The folder's index.json (kb_version, config, model names), or None when absent or unfinished."""
    path = Path(folder) / INDEX_FILE
    if not path.exists():
        return None
    index = json.loads(path.read_text())
    return index if index.get("schema_version") == SCHEMA_VERSION else None


def load_cards(folder: Path, kb_version: str) -> dict[str, ModelCard]:
    """The model cards of a folder by name; refuses (StaleModelError) models of another KB version."""
    index = read_index(folder)
    if index is None:
        raise StaleModelError(f"no finished surrogate models in {folder}; "
                              "run `python -m tools.train_surrogates`")
    if index["kb_version"] != kb_version:
        raise StaleModelError(f"surrogate models in {folder} were trained on KB {index['kb_version']}, "
                              f"the KB is {kb_version}; retrain with `python -m tools.train_surrogates`")
    cards = {name: ModelCard.model_validate_json((Path(folder) / f"{name}.json").read_text())
             for name in index["models"]}
    stale = [n for n, c in cards.items() if c.kb_version != kb_version]
    if stale:
        raise StaleModelError(f"models {stale} in {folder} are not of KB {kb_version}; retrain")
    return cards


def load_model(folder: Path, name: str, kb_version: str) -> SurrogateModel:
    """One saved model; refuses (StaleModelError) a model of another KB version."""
    model = joblib.load(Path(folder) / f"{name}.joblib")
    if not isinstance(model, SurrogateModel) or model.card.kb_version != kb_version:
        raise StaleModelError(f"{Path(folder) / name}.joblib is not a surrogate of KB {kb_version}; retrain")
    return model


def load_models(folder: Path, kb_version: str) -> dict[str, SurrogateModel]:
    """Every model of a folder by name; refuses (StaleModelError) models of another KB version."""
    return {name: load_model(folder, name, kb_version) for name in load_cards(folder, kb_version)}
