"""Real training runs on SmolLM2-135M: a run killed with SIGKILL resumes, lowers the loss, saves an adapter
that reloads to the same outputs and answers a task as an agent backbone. One short run serves every test."""

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
from train_data import make_pair, write_distill

from agents.answer_text import read_answer
from agents.answers import answers_match
from agents.solver.backbones import load_text_backbone, smollm2_dir
from agents.solver.prompts import standalone_messages
from training.config import load_train_config
from training.packing import PackedCollator, pack_rows
from training.prepare import prepare, read_prepared
from training.tokens import tokenize_chat
from training.train import build_run, main
from training.trainer import last_checkpoint

ROOT = Path(__file__).resolve().parents[1]
STEPS = 6
SETS = [f"train.max_steps={STEPS}", "train.save_steps=2", "train.eval_steps=0", "train.batch_size=1",
        "train.grad_accum=1", "train.threads=1", "train.lr=0.002", "train.warmup_ratio=0", "train.logging_steps=1",
        "lora.dropout=0", "lora.r=8", "data.variant=direct", "data.max_seq_len=256", "data.per_category=2",
        "data.max_dev=3"]


def _wait_for(path: Path, proc: subprocess.Popen, timeout: float = 600.0) -> None:
    deadline = time.time() + timeout
    while not path.exists():
        if proc.poll() is not None:
            raise AssertionError(f"training ended (code {proc.returncode}) before {path} appeared")
        if time.time() > deadline:
            raise AssertionError(f"{path} did not appear in {timeout} s")
        time.sleep(0.05)


@pytest.fixture(scope="module")
def resumed(tmp_path_factory):
    """Start a run in a subprocess, SIGKILL it after its first checkpoint, then finish it in this process."""
    tmp = tmp_path_factory.mktemp("train")
    data = tmp / "sft"
    prepare([write_distill(tmp / "distill")], data)
    out = tmp / "run"
    smollm2_dir()  # convert the GGUF once before the subprocess starts
    cmd = [sys.executable, "-m", "training.train", "--preset", "cpu-smollm2", "--data", str(data), "--out", str(out),
           *[a for s in SETS for a in ("--set", s)]]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait_for(out / "checkpoints" / "checkpoint-2" / "trainer_state.json", proc)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()[-2000:] if proc.stderr else ""
    assert not (out / "adapter").exists()
    run = build_run(load_train_config("cpu-smollm2", None, SETS), data, out)
    card = run.execute()
    return {"run": run, "card": card, "data": data, "out": out}


def test_killed_run_resumes_from_its_last_checkpoint(resumed):
    card = resumed["card"]
    assert card["resumed_from"] is not None
    resumed_step = int(Path(card["resumed_from"]).name.split("-")[1])
    assert resumed_step >= 2 and card["steps"] == STEPS
    logged = [x["step"] for x in card["metrics"]["train_losses"]]
    assert logged == list(range(1, STEPS + 1))        # steps before the kill kept, none done twice
    assert json.loads((resumed["out"] / "adapter" / "run_card.json").read_text())["steps"] == STEPS
    assert list((resumed["out"] / "tb").glob("events.out.tfevents.*"))


def test_a_few_steps_lower_the_loss(resumed):
    m = resumed["card"]["metrics"]
    assert m["dev_loss_after"] < 0.5 * m["dev_loss_before"]
    assert m["train_loss_last"] < m["train_loss_first"]
    card = resumed["card"]
    assert card["data_hash"] == read_prepared(resumed["data"], "direct").data_hash
    assert card["peak_rss_mb"] > 0 and card["train_data"]["examples"] == 12


def _logits(model, tokenizer, chat) -> torch.Tensor:
    ids = torch.tensor([tokenize_chat(tokenizer, chat).input_ids])
    with torch.inference_mode():
        return model(input_ids=ids).logits[0]


def test_saved_adapter_reloads_to_the_same_outputs(resumed):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    run = resumed["run"]
    trained = run.trainer.model.eval()
    chat = read_prepared(resumed["data"], "cot").dev[0].messages
    before = _logits(trained, run.tokenizer, chat)
    base = AutoModelForCausalLM.from_pretrained(run.base_dir, dtype=torch.float32).eval()
    plain = _logits(base, run.tokenizer, chat)
    reloaded = PeftModel.from_pretrained(base, resumed["out"] / "adapter").eval()
    after = _logits(reloaded, run.tokenizer, chat)
    assert torch.allclose(before, after, atol=1e-4)
    assert not torch.allclose(before, plain, atol=1e-2)          # the adapter changed the model


def test_adapter_answers_a_task_as_an_agent_backbone(resumed):
    backbone = load_text_backbone(resumed["card"]["backbone"])
    task, _ = make_pair(150, "dev", 1)                               # a choice task the run never saw
    text = backbone.generate([standalone_messages(task, cot=False)], max_new_tokens=12)[0]
    read = read_answer(text, task)
    assert read.status == "answered", text
    assert answers_match(task.gold, read.answer), text


def test_merged_model_folder_loads_and_answers_like_the_adapter(resumed, tmp_path):
    from training.merge import main as merge_main

    adapter = resumed["out"] / "adapter"
    assert merge_main(["--adapter", str(adapter), "--out", str(tmp_path / "merged")]) == 0
    assert (tmp_path / "merged" / "config.json").exists() and (tmp_path / "merged" / "merge_card.json").exists()
    assert not list((tmp_path / "merged").glob("adapter_*"))
    task, _ = make_pair(151, "dev", 5)
    chat = [standalone_messages(task, cot=False)]
    merged = load_text_backbone(f"hf:{tmp_path / 'merged'}").generate(chat, max_new_tokens=12)
    assert merged == load_text_backbone(resumed["card"]["backbone"]).generate(chat, max_new_tokens=12)
    assert merge_main(["--adapter", str(tmp_path), "--out", str(tmp_path / "m2")]) == 1


def test_rerun_with_other_settings_is_refused(resumed, capsys):
    code = main(["--preset", "cpu-smollm2", "--data", str(resumed["data"]), "--out", str(resumed["out"]),
                 *[a for s in [*SETS, "train.lr=0.01"] for a in ("--set", s)]])
    assert code == 1 and "different config" in capsys.readouterr().err


def test_packed_rows_give_the_same_logits_as_separate_examples():
    from transformers import AutoModelForCausalLM

    torch.set_num_threads(1)   # one thread: two on a busy 2-core machine run many times slower
    folder = smollm2_dir()
    from training.model import load_tokenizer

    tokenizer = load_tokenizer(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    chats = [tokenize_chat(tokenizer, [*standalone_messages(make_pair(i, "train", i)[0], cot=False),
                                       {"role": "assistant", "content": f"Answer: {'ABC'[i]}"}]) for i in range(3)]
    rows, _ = pack_rows(chats, max_len=1000, packing=True)
    assert len(rows) == 1
    batch = PackedCollator(tokenizer.pad_token_id)(rows)
    with torch.inference_mode():
        packed = model(input_ids=batch["input_ids"], position_ids=batch["position_ids"], use_cache=False).logits[0]
    at = 0
    for i, chat in enumerate(sorted(chats, key=lambda c: -len(c.input_ids))):
        with torch.inference_mode():
            alone = model(input_ids=torch.tensor([chat.input_ids])).logits[0]
        assert torch.allclose(packed[at:at + len(chat.input_ids)], alone, atol=1e-3), i
        at += len(chat.input_ids)


def test_torn_checkpoints_are_dropped(tmp_path):
    for step, whole in [(2, True), (4, True), (6, False)]:
        folder = tmp_path / f"checkpoint-{step}"
        folder.mkdir()
        if whole:
            (folder / "trainer_state.json").write_text(json.dumps({"global_step": step}))
    (tmp_path / "checkpoint-8").mkdir()
    (tmp_path / "checkpoint-8" / "trainer_state.json").write_text('{"global_st')
    assert last_checkpoint(tmp_path) == tmp_path / "checkpoint-4"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint-2", "checkpoint-4"]


@pytest.mark.slow   # ~20 s alone, minutes on a busy machine; the chunked path runs only past train.loss_chunk targets
def test_gpu_preset_path_on_cpu_chunked_loss_and_checkpointing_match_the_plain_loss():
    """The gpu-qlora settings that run on CPU (chunked, checkpointed cross-entropy; gradient checkpointing) give
    the loss and gradients of a plain full-logits cross-entropy over the assistant tokens."""
    import torch.nn.functional as F

    from training.model import load_for_training, load_tokenizer
    from training.trainer import assistant_loss_sum

    cpu_safe = ["train.device=cpu", "quant.load_in_4bit=false", "quant.double_quant=false", "train.bf16=false",
                "train.optimizer=adamw_torch", "model.dtype=float32", "lora.r=4", "train.loss_chunk=64"]
    cfg = load_train_config("gpu-qlora", None, cpu_safe)
    torch.set_num_threads(1)
    assert cfg.train.gradient_checkpointing and cfg.lora.target_modules == "all-linear"
    folder = smollm2_dir()
    tokenizer = load_tokenizer(folder)
    reasoning = "1. The unit has a phenyl ring.\n2. Rings stiffen the chain and raise Tg.\n3. So B.\nAnswer: B"
    chats = [tokenize_chat(tokenizer, [*standalone_messages(make_pair(i, "train", i)[0], cot=False),
                                       {"role": "assistant", "content": reasoning}]) for i in range(3)]
    rows, _ = pack_rows(chats, max_len=400, packing=True)
    batch = PackedCollator(tokenizer.pad_token_id)(rows)
    torch.manual_seed(0)
    model = load_for_training(cfg, folder).train()
    for p in model.parameters():          # LoRA B starts at zero; give the adapter something to differentiate
        if p.requires_grad:
            torch.nn.init.normal_(p, std=0.01)
    total, n = assistant_loss_sum(model, batch, chunk=cfg.train.loss_chunk)
    assert n > cfg.train.loss_chunk       # several chunks were used
    total.backward()
    chunked = {k: p.grad.clone() for k, p in model.named_parameters() if p.requires_grad}
    model.zero_grad()
    logits = model(input_ids=batch["input_ids"], position_ids=batch["position_ids"], use_cache=False).logits
    plain = F.cross_entropy(logits.flatten(0, 1).float(), batch["shift_labels"].flatten(), ignore_index=-100,
                            reduction="sum")
    plain.backward()
    assert torch.allclose(total, plain, rtol=1e-4)
    for k, p in model.named_parameters():
        if p.requires_grad:
            assert torch.allclose(chunked[k], p.grad, rtol=1e-3, atol=1e-6), k
