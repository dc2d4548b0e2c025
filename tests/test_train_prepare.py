"""training.prepare and training.tokens: versioned chat files from distill shards, assistant-only loss masks."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from train_data import distill_line, make_pair, write_distill

from agents.solver.backbones import smollm2_dir
from training.examples import VARIANTS, DistillRecord, build_example
from training.model import load_tokenizer
from training.packing import pack_rows, shifted
from training.prepare import PrepareError, main, prepare, read_prepared
from training.tokens import IGNORE, tokenize_chat


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer(smollm2_dir())


@pytest.fixture()
def prepared(tmp_path) -> Path:
    prepare([write_distill(tmp_path / "distill")], tmp_path / "sft")
    return tmp_path / "sft"


def test_prepare_writes_each_variant_and_split_from_kept_records_only(prepared):
    manifest = json.loads((prepared / "manifest.json").read_text())
    assert sorted(manifest["files"]) == sorted(f"{v}.{s}.jsonl" for v in VARIANTS for s in ("train", "dev"))
    assert manifest["counts"]["records"] == 21 and manifest["counts"]["kept"] == 18
    assert manifest["counts"]["rejected:wrong_answer"] == 2 and manifest["counts"]["skipped:test-split"] == 1
    for variant in VARIANTS:
        data = read_prepared(prepared, variant)
        assert len(data.train) == 12 and len(data.dev) == 6
        assert {e.split for e in data.train} == {"train"} and {e.split for e in data.dev} == {"dev"}
        assert not {e.task_id for e in data.train} & {e.task_id for e in data.dev}
        assert all(e.task_id.startswith("train-") for e in data.train)   # rejected (200+) / test (300+) never
        assert all(not e.task_id.startswith(("train-2", "test-")) for e in data.train + data.dev)


def test_variants_hold_the_renderings(prepared):
    cot = read_prepared(prepared, "cot").train[0].messages
    direct = read_prepared(prepared, "direct").train[0].messages
    tools = read_prepared(prepared, "tools").train[0].messages
    assert [m["role"] for m in cot] == ["system", "user", "assistant"]
    assert "Think step by step" in cot[1]["content"] and cot[2]["content"].startswith("1. ")
    assert "Give only the answer line" in direct[1]["content"]
    assert re.fullmatch(r"Answer: .+", direct[2]["content"])
    assert "tool" in [m["role"] for m in tools] and "Tool call: {" in tools[2]["content"]
    assert tools[-1]["role"] == "assistant" and tools[-1]["content"].splitlines()[-1].startswith("Answer: ")


def test_prepare_is_deterministic_and_checked_on_read(tmp_path, prepared):
    again = prepare([tmp_path / "distill"], tmp_path / "sft2")
    first = json.loads((prepared / "manifest.json").read_text())
    assert again["data_hash"] == first["data_hash"]
    (prepared / "cot.train.jsonl").write_text((prepared / "cot.train.jsonl").read_text()[:-200] + "\n")
    with pytest.raises(PrepareError, match="sha256"):
        read_prepared(prepared, "cot")


def test_prepare_cli_refuses_a_folder_without_shards(tmp_path, capsys):
    assert main(["--traces", str(tmp_path), "--out", str(tmp_path / "sft")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error:") and "shard" in err and len(err.strip().splitlines()) == 1


def _assistant_spans(text: str) -> list[tuple[int, int]]:
    """Character spans that must be trained: an assistant turn's content and its <|im_end|>."""
    return [(m.start(1), m.end(1)) for m in re.finditer(r"<\|im_start\|>assistant\n(.*?<\|im_end\|>)", text, re.DOTALL)]


@pytest.mark.parametrize("variant", VARIANTS)
def test_loss_mask_covers_exactly_the_assistant_tokens(tokenizer, variant):
    task, trace = make_pair(0, "train", 4)                     # a trace with a tool call and a closing step
    example = build_example(DistillRecord.model_validate_json(distill_line(task, trace)), variant)
    tokens = tokenize_chat(tokenizer, example.messages)
    full = tokenizer.apply_chat_template(example.messages, tokenize=False)
    assert tokens.input_ids == tokenizer(full, add_special_tokens=False)["input_ids"]
    spans = _assistant_spans(full)
    assert len(spans) == sum(m["role"] == "assistant" for m in example.messages)
    at = 0
    for token, label in zip(tokens.input_ids, tokens.labels, strict=True):   # token by token
        piece = tokenizer.decode([token])
        assert full.startswith(piece, at)
        inside = any(start <= at and at + len(piece) <= end for start, end in spans)
        assert (label == token) == inside and (label == IGNORE) == (not inside), (at, piece)
        at += len(piece)
    trained = tokenizer.decode([t for t, lab in zip(tokens.input_ids, tokens.labels) if lab != IGNORE])
    assert trained == "".join(m["content"] + "<|im_end|>" for m in example.messages if m["role"] == "assistant")
    observations = [m["content"] for m in example.messages if m["role"] == "tool"]
    assert all(o not in trained for o in observations) and (variant != "tools" or observations)


def test_packing_keeps_examples_apart(tokenizer, prepared):
    chats = [tokenize_chat(tokenizer, e.messages) for e in read_prepared(prepared, "direct").train]
    rows, stats = pack_rows(chats, max_len=300, packing=True)
    assert stats.examples == len(chats) and stats.rows < len(chats)
    assert all(len(r["input_ids"]) <= 300 for r in rows)
    starts = sum(r["position_ids"].count(0) for r in rows)
    assert starts == len(chats)
    packed_labels = sorted(tuple(r["shift_labels"][i:i + 5]) for r in rows for i, p in enumerate(r["position_ids"])
                           if p == 0)
    assert packed_labels == sorted(tuple(shifted(c)[:5]) for c in chats)
    for r in rows:   # the token before each example start is never trained to predict that start
        for i, p in enumerate(r["position_ids"]):
            if p == 0 and i > 0:
                assert r["shift_labels"][i - 1] == IGNORE
    unpacked, _ = pack_rows(chats, max_len=300, packing=False)
    assert len(unpacked) == len(chats)


def test_a_mixed_variant_reads_both_files_and_samples_each_variant_alike(prepared):
    from training.train import stratified_sample

    cot, direct = read_prepared(prepared, "cot"), read_prepared(prepared, "direct")
    mixed = read_prepared(prepared, "cot+direct")
    assert len(mixed.train) == len(cot.train) + len(direct.train) and len(mixed.dev) == len(cot.dev) + len(direct.dev)
    sample = stratified_sample(mixed.train, 1, seed=0)
    groups = {(e.category, e.variant) for e in mixed.train}
    assert len(sample) == len(groups)              # one per category and variant, not one per category


def test_a_mixed_variant_needs_every_part_prepared(tmp_path):
    prepare([write_distill(tmp_path / "distill")], tmp_path / "sft", ("cot",))
    assert read_prepared(tmp_path / "sft", "cot").train
    with pytest.raises(PrepareError, match=r"no direct\.train\.jsonl"):
        read_prepared(tmp_path / "sft", "cot+direct")
