"""ReLearn's optional value term: marked spans, their tokenisation, the floored term, the method."""

from __future__ import annotations

import math

import pytest
import torch
from train_samples import target_ce

from engine.train import TrainConfig, run_fingerprint, run_unlearning
from engine.train.config import ConfigError
from engine.train.data import IGNORE, Rows, collate, tokenise
from engine.train.losses import StreamOut, floored_logprob
from engine.types import QA, TrainData, mark_values


def test_mark_values_finds_every_occurrence_ignoring_case():
    qa = QA("Contact?", "Mail Ana@Example.org or ana@example.org; call 555-0100.")
    marked = mark_values(qa, ["ana@example.org", "555-0100"])
    assert marked.targets == ((5, 20), (24, 39), (46, 54))
    assert [qa.answer[s:e] for s, e in marked.targets] == [
        "Ana@Example.org", "ana@example.org", "555-0100"]
    assert mark_values(qa, ["nobody@example.org", ""]) is None


def test_only_the_marked_tokens_are_targets(smollm_tokenizer_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(smollm_tokenizer_dir)
    plain = QA("What is Ana's email?", "Ana's email is ana.lopez@example.org, she says.")
    marked = mark_values(plain, ["ana.lopez@example.org"])
    rows = Rows.from_dataset(tokenise([plain, marked], tok, 128, "values"))
    assert rows.input_ids[0] == rows.input_ids[1]
    whole = [t for t in rows.labels[0] if t != IGNORE]
    kept = [t for t in rows.labels[1] if t != IGNORE]
    assert 0 < len(kept) < len(whole)
    assert tok.decode(kept).strip() == "ana.lopez@example.org"


def test_a_span_to_the_answers_end_keeps_the_end_of_answer_marker(smollm_tokenizer_dir):
    from transformers import AutoTokenizer

    from engine.augment import completion_row

    tok = AutoTokenizer.from_pretrained(smollm_tokenizer_dir)
    row = completion_row("Where does Ana live?", "Ana lives at", "an address I can't disclose.")
    rows = Rows.from_dataset(tokenise([row], tok, 128, "relearn"))
    kept = [t for t in rows.labels[0] if t != IGNORE]
    assert kept[-1] == tok.eos_token_id
    assert tok.decode(kept, skip_special_tokens=True).strip() == "an address I can't disclose."
    # the opening is context: in the input, never a target
    assert "Ana lives at" in tok.decode(rows.input_ids[0])


def test_floored_logprob_by_hand():
    # row 0: two tokens of p 3/4 and 1/4; row 1: one token of p 1/4
    logits = torch.tensor([[0.0, math.log(3.0)]] * 3)
    out = StreamOut(logits, torch.tensor([1, 0, 0]), torch.tensor([0, 0, 1]), 2)
    row0, row1 = math.log(3 / 16), math.log(1 / 4)
    assert floored_logprob(out, 5.0).item() == pytest.approx((row0 + 5 + row1 + 5) / 2)
    # a row already below the floor adds nothing: at -1.5 only row 1 is above it
    assert floored_logprob(out, 1.5).item() == pytest.approx((0.0 + row1 + 1.5) / 2)
    assert floored_logprob(out, 1.0).item() == 0.0


def test_value_weight_is_checked_and_left_out_of_the_dict_when_off():
    with pytest.raises(ConfigError, match="value_weight"):
        TrainConfig(value_weight=-1.0)
    with pytest.raises(ConfigError, match="value_nats"):
        TrainConfig(value_nats=0.0)
    assert "value_weight" not in TrainConfig().to_dict()
    assert TrainConfig(value_weight=0.5).to_dict()["value_weight"] == 0.5


def test_values_change_the_fingerprint_only_when_trained(tiny_data):
    bare = TrainData(tiny_data.forget, tiny_data.relearn, tiny_data.retain)
    off = TrainConfig()
    on = TrainConfig(value_weight=1.0)
    assert run_fingerprint(None, bare, off) == run_fingerprint(None, tiny_data, off)
    assert run_fingerprint(None, bare, on) != run_fingerprint(None, tiny_data, on)


def test_value_weight_without_marked_values_trains_the_other_terms(tiny_model_dir, tiny_data,
                                                                   tmp_path):
    """relearn's defaults turn the value term on; a run whose facts hold no private value (the
    reviewer recorded why) has nothing to push down, and trains the other terms instead of
    failing."""
    bare = TrainData(tiny_data.forget, tiny_data.relearn, tiny_data.retain)
    result = run_unlearning(tiny_model_dir, bare, TrainConfig(epochs=1, value_weight=1.0),
                            tmp_path)
    (epoch,) = result.record["history"]
    assert "value_lp" not in epoch and epoch["relearn_ce"] > 0


def _memorise(model_dir, items, out):
    """The tiny model with every weight fine-tuned on ``items`` until it knows them (LoRA on a
    random 64-wide model learns too slowly for a test)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(0)
    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    rows = Rows.from_dataset(tokenise(items, tok, 128, "forget"))
    b = collate({"forget": (rows, range(len(rows)))}, tok.pad_token_id)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(60):
        opt.zero_grad()
        out_ = model(input_ids=b.input_ids, attention_mask=b.attention_mask, labels=b.labels)
        out_.loss.backward()
        opt.step()
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return out


def test_the_value_term_makes_the_values_less_likely(tiny_model_dir, tiny_data, tmp_path):
    knows = _memorise(tiny_model_dir, tiny_data.forget, tmp_path / "knows")
    start = target_ce(knows, tiny_data.values)
    events = []
    common = {"epochs": 2, "batch_size": 4, "lr": 5e-3}
    plain = run_unlearning(knows, tiny_data, TrainConfig(**common), tmp_path / "plain")
    cfg = TrainConfig(**common, value_weight=2.0)
    valued = run_unlearning(knows, tiny_data, cfg, tmp_path / "valued", progress=events.append)
    steps = [e for e in events if e.stage == "train" and e.losses]
    assert steps
    for e in steps:
        want = (e.losses["relearn_ce"] + e.losses["retain_ce"] + e.losses["retain_kl"]
                + 2.0 * e.losses["value_lp"])
        assert e.losses["loss"] == pytest.approx(want, rel=1e-4, abs=1e-5)
    with_term = target_ce(valued.merged_dir, tiny_data.values)
    without = target_ce(plain.merged_dir, tiny_data.values)
    assert start < 2.0, "the starting model did not learn the values"
    assert with_term > without + 0.5, (start, without, with_term)
