"""The layered config helper: preset < file < flags, unknown keys and bad files refused in one line each."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict

from kb.layered_config import ConfigError, layered_config


class _Inner(BaseModel):
    model_config = ConfigDict(extra="forbid")
    r: int = 8
    alpha: int = 16


class _Cfg(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lr: float = 1e-4
    steps: int = 10
    lora: _Inner = _Inner()


def test_later_layers_win_and_nested_settings_merge(tmp_path: Path) -> None:
    preset = tmp_path / "p.toml"
    preset.write_text("lr = 0.001\nsteps = 5\n[lora]\nr = 4\n")
    file = tmp_path / "f.json"
    file.write_text(json.dumps({"steps": 7, "lora": {"alpha": 32}}))
    cfg = layered_config(_Cfg, preset=preset, file=file, flags={"steps": 9, "lr": None})
    assert (cfg.lr, cfg.steps, cfg.lora.r, cfg.lora.alpha) == (0.001, 9, 4, 32)


def test_unknown_keys_are_named_one_per_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        layered_config(_Cfg, preset={"lr": "fast", "stpes": 3, "lora": {"rank": 2}})
    lines = str(err.value).splitlines()
    assert len(lines) == 3
    assert any(line.startswith("stpes: unknown setting") for line in lines)
    assert any(line.startswith("lora.rank: unknown setting") for line in lines)
    assert any(line.startswith("lr:") for line in lines)


@pytest.mark.parametrize(("content", "expected"), [
    (None, "does not exist"), ("{not json", "not valid JSON"), ("[1, 2]", "not a list"), ("dir", "not a file"),
])
def test_bad_config_files_give_one_line(tmp_path: Path, content: str | None, expected: str) -> None:
    path = tmp_path / "c.json"
    if content == "dir":
        path.mkdir()
    elif content is not None:
        path.write_text(content)
    with pytest.raises(ConfigError) as err:
        layered_config(_Cfg, file=path)
    assert expected in str(err.value) and "\n" not in str(err.value)
