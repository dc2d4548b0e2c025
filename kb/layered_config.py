"""One way to build a stage's settings: preset < config file < command-line flags, unknown keys refused.

Every stage (kb.build, agents.taskgen, agents.distill, training.train, eval.run) builds its pydantic config
once at the edge with `layered_config` and passes it down. A bad file or value is a `ConfigError` whose
message names each offending field on its own line, so the CLI prints it and exits 1 before any work.

    cfg = layered_config(TrainConfig, preset=presets_dir / "cpu-smollm2.toml", file=args.config,
                         flags={"out_dir": out, "max_steps": 20})
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from kb.errors import PolyBenchError

M = TypeVar("M", bound=BaseModel)


class ConfigError(PolyBenchError, ValueError):
    """A config file or value that cannot be used; one line per problem, each naming its field."""


def read_config_file(path: Path) -> dict[str, Any]:
    """The mapping in a JSON or TOML config file; ConfigError (one line) when it is missing or not a mapping."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"config file {path} does not exist")
    if not path.is_file():
        raise ConfigError(f"config file {path} is not a file")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {path} cannot be read: {exc}") from None
    try:
        data = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        kind = "TOML" if path.suffix == ".toml" else "JSON"
        raise ConfigError(f"config file {path} is not valid {kind}: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping of settings, not a {type(data).__name__}")
    return data


def merge_layers(*layers: Mapping[str, Any] | None) -> dict[str, Any]:
    """Later layers override earlier ones; nested mappings merge key by key, other values replace."""
    merged: dict[str, Any] = {}
    for layer in layers:
        for key, value in (layer or {}).items():
            if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
                merged[key] = merge_layers(merged[key], value)
            else:
                merged[key] = value
    return merged


def config_error_lines(exc: ValidationError) -> list[str]:
    """One 'field: reason' line per pydantic error (the way fastapi-cli reports config errors)."""
    lines = []
    for err in exc.errors():
        field = ".".join(str(p) for p in err["loc"]) or "(config)"
        reason = "unknown setting" if err["type"] == "extra_forbidden" else err["msg"]
        lines.append(f"{field}: {reason}")
    return lines


def layered_config(model: type[M], *, preset: Mapping[str, Any] | Path | None = None,
                   file: Path | None = None, flags: Mapping[str, Any] | None = None) -> M:
    """The model built from preset < file < flags (flags whose value is None are left out)."""
    preset_data = read_config_file(preset) if isinstance(preset, Path) else dict(preset or {})
    file_data = read_config_file(file) if file is not None else {}
    flag_data = {k: v for k, v in (flags or {}).items() if v is not None}
    try:
        return model.model_validate(merge_layers(preset_data, file_data, flag_data))
    except ValidationError as exc:
        raise ConfigError("\n".join(config_error_lines(exc))) from None
