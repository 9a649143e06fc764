"""The optional early stop: off by default; with it, training ends at the first epoch boundary
whose check passes, records the check, and a leaking greedy answer fails the check."""

from __future__ import annotations

import json

import torch
from train_samples import make_data

from engine.audit.generation import generate_batched
from engine.models import load_model
from engine.train import TrainConfig, early_stop, run_unlearning
from engine.types import QA, TrainData, mark_values


def test_off_by_default_and_out_of_old_fingerprints():
    cfg = TrainConfig()
    assert cfg.early_stop is False
    assert not {"early_stop", "early_stop_ce_ratio", "early_stop_kl"} & set(cfg.to_dict())


def test_a_passing_check_ends_training_at_that_epoch(tiny_model_dir, tiny_data, tmp_path):
    cfg = TrainConfig(method="relearn", epochs=3, batch_size=4, lr=1e-3, early_stop=True,
                      early_stop_ce_ratio=10.0, early_stop_kl=10.0)
    result = run_unlearning(tiny_model_dir, tiny_data, cfg, tmp_path)
    record = json.loads((tmp_path / "run.json").read_text())
    assert record["epochs_run"] == 1 and record["stopped_early"]
    check = record["history"][0]["early_stop_check"]
    assert check["passed"] and check["leaking_answers"] == 0
    assert check["answers"] == len(early_stop.forget_questions(tiny_data))
    assert result.merged_dir.is_dir()


def test_bounds_not_met_run_every_epoch(tiny_model_dir, tiny_data, tmp_path):
    cfg = TrainConfig(method="relearn", epochs=2, batch_size=4, lr=1e-3, early_stop=True,
                      early_stop_ce_ratio=1.0, early_stop_kl=0.0)
    run_unlearning(tiny_model_dir, tiny_data, cfg, tmp_path)
    record = json.loads((tmp_path / "run.json").read_text())
    assert record["epochs_run"] == 2 and not record["stopped_early"]
    first, last = record["history"]
    assert not first["early_stop_check"]["passed"]
    assert first["early_stop_check"]["retain_kl"] > 0
    assert "early_stop_check" not in last  # no check after the last epoch


def _chatty(tiny_model_dir, folder):
    """The tiny Llama with an untied head, so that its greedy answers have words in them."""
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    config = LlamaConfig.from_pretrained(tiny_model_dir)
    config.tie_word_embeddings = False
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(folder)
    tok.save_pretrained(folder)
    return load_model(folder, device="cpu")


def test_a_leaking_greedy_answer_fails_the_check(tiny_model_dir, tmp_path):
    lm = _chatty(tiny_model_dir, tmp_path / "chatty")
    data = make_data(n_forget=2, n_relearn=2, n_retain=2)
    question = data.forget[0].question
    said = generate_batched(lm.model, lm.tokenizer, [question], max_new_tokens=48)[0]
    word = next((w for w in said.split() if len(w.strip(".,!?")) >= 3), None)
    assert word, f"the tiny model said nothing usable: {said!r}"
    # a "private value" the model does say, in an original answer
    leaky = QA(question, f"It is {word}.")
    data = TrainData(data.forget, data.relearn, data.retain,
                     (mark_values(leaky, [word]),))
    result = early_stop.check(lm.model, lm.tokenizer, data, lambda: (1.0, 1.0, 0.0),
                              ce_ratio=10.0, kl_bound=10.0)
    assert result.leaking_answers >= 1 and not result.passed
    clean = TrainData(data.forget, data.relearn, data.retain, ())
    ok = early_stop.check(lm.model, lm.tokenizer, clean, lambda: (1.0, 1.0, 0.0),
                          ce_ratio=10.0, kl_bound=10.0)
    assert ok.passed and ok.answers == result.answers
    # the retain bounds, each on its own
    assert not early_stop.check(lm.model, lm.tokenizer, clean, lambda: (1.2, 1.0, 0.0),
                                ce_ratio=1.1, kl_bound=10.0).passed
    assert not early_stop.check(lm.model, lm.tokenizer, clean, lambda: (1.0, 1.0, 0.2),
                                ce_ratio=1.1, kl_bound=0.1).passed
    assert torch.is_grad_enabled()
