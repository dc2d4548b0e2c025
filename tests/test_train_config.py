"""training.config: presets layered with files and flags; unknown keys and contradictions refused before any load."""

from __future__ import annotations

import json

import pytest

from kb.layered_config import ConfigError
from training.config import check_environment, load_train_config, parse_sets
from training.model import lora_config, quantization_config
from training.train import main


def test_presets_load_and_layer_file_under_flags(tmp_path):
    cpu = load_train_config("cpu-smollm2")
    assert cpu.model.base == "smollm2" and cpu.train.device == "cpu" and cpu.data.packing
    gpu = load_train_config("gpu-qlora")
    assert gpu.quant.load_in_4bit and gpu.quant.double_quant and gpu.quant.quant_type == "nf4"
    assert gpu.quant.compute_dtype == "bfloat16" and gpu.train.optimizer.startswith("paged_adamw")
    assert gpu.lora.target_modules == "all-linear" and gpu.train.gradient_checkpointing
    file = tmp_path / "mine.toml"
    file.write_text("[train]\nmax_steps = 7\nlr = 0.001\n")
    cfg = load_train_config("cpu-smollm2", file, ["train.max_steps=9", "data.variant=direct"])
    assert (cfg.train.max_steps, cfg.train.lr, cfg.data.variant) == (9, 0.001, "direct")


def test_set_flags_parse_values():
    assert parse_sets(["a.b=3", "a.c=true", "d.e=text", "d.f=[\"q_proj\"]"]) == {
        "a": {"b": 3, "c": True}, "d": {"e": "text", "f": ["q_proj"]}}
    with pytest.raises(ConfigError, match="section.key=value"):
        parse_sets(["nothing"])


@pytest.mark.parametrize(("sets", "field", "reason"), [
    (["train.max_stepz=3"], "train.max_stepz", "unknown setting"),
    (["quant.load_in_4bit=true", "quant.load_in_8bit=true"], "quant.load_in_8bit", "cannot both"),
    (["quant.double_quant=true"], "quant.double_quant", "4-bit"),
    (["train.bf16=true", "train.fp16=true"], "train.fp16", "cannot both"),
    (["train.optimizer=paged_adamw_8bit"], "train.optimizer", "CUDA"),
    (["model.kernels=liger"], "model.kernels", "CUDA"),
    (["data.variant=essay"], "data.variant", "cot"),
    (["lora.target_modules=[]"], "lora.target_modules", "empty"),
    (["train.lr=-1"], "train.lr", "greater than 0"),
])
def test_contradictions_are_refused_naming_the_field(sets, field, reason):
    with pytest.raises(ConfigError) as err:
        load_train_config("cpu-smollm2", None, sets)
    line = next(x for x in str(err.value).splitlines() if x.startswith(field))
    assert reason in line


def test_packing_refused_for_a_model_that_cannot_keep_packed_rows_apart(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "gpt2"}))
    with pytest.raises(ConfigError, match=r"data\.packing: model type 'gpt2'"):
        load_train_config("cpu-smollm2", None, [f"model.base={tmp_path}"])
    cfg = load_train_config("cpu-smollm2", None, [f"model.base={tmp_path}", "data.packing=false"])
    assert not cfg.data.packing
    with pytest.raises(ConfigError, match="model.base: .* not a model folder"):
        load_train_config("cpu-smollm2", None, [f"model.base={tmp_path / 'missing'}"])


def test_unknown_preset_lists_the_known_ones():
    with pytest.raises(ConfigError, match="cpu-smollm2, gpu-qlora"):
        load_train_config("tpu-giant")


def test_gpu_preset_is_valid_but_refused_on_a_machine_without_cuda():
    import torch

    cfg = load_train_config("gpu-qlora")
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(ConfigError, match="train.device: cuda asked for"):
        check_environment(cfg)


def test_qlora_helpers_build_the_library_objects():
    cfg = load_train_config("gpu-qlora")
    bnb = quantization_config(cfg.quant)
    assert bnb.load_in_4bit and bnb.bnb_4bit_use_double_quant and bnb.bnb_4bit_quant_type == "nf4"
    assert str(bnb.bnb_4bit_compute_dtype) == "torch.bfloat16"
    assert quantization_config(load_train_config("cpu-smollm2").quant) is None
    lora = lora_config(cfg.lora)
    assert lora.r == 16 and lora.target_modules == "all-linear"


def test_cli_refuses_bad_config_before_loading_data_or_model(tmp_path, capsys, monkeypatch):
    import transformers

    def loaded(*args, **kwargs):
        raise AssertionError("a model was loaded")

    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", loaded)
    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", loaded)
    for sets, expected in [(["quant.load_in_4bit=true", "quant.load_in_8bit=true", "quant.double_quant=true"],
                             ["quant.load_in_8bit: 4-bit and 8-bit", "quant: bitsandbytes quantised training"]),
                           (["train.bogus=1"], ["train.bogus: unknown setting"])]:
        code = main(["--preset", "cpu-smollm2", *[a for s in sets for a in ("--set", s)],
                     "--data", str(tmp_path / "no-data"), "--out", str(tmp_path / "run")])
        assert code == 1
        err = capsys.readouterr().err
        assert err.startswith("error: bad training config") and all(e in err for e in expected)
    assert not (tmp_path / "run").exists()
