"""The reference distribution is the same model with its adapter disabled, never a copy."""

from __future__ import annotations

import gc

import pytest
import torch

from engine.train.base import Objective
from engine.train.config import TrainConfig
from engine.train.data import Rows, collate, tokenise
from engine.train.loop import add_lora
from engine.train.losses import kl_to_reference
from engine.train.methods import make_method


def _setup(tiny_model_dir, tiny_data, method="relearn"):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(0)
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    cfg = TrainConfig(method=method, lora_dropout=0.05)
    model = add_lora(AutoModelForCausalLM.from_pretrained(tiny_model_dir), cfg)
    model.train()
    obj = Objective(model, make_method(method, cfg))
    rows = {n: Rows.from_dataset(tokenise(qa, tok, 128, n))
            for n, qa in obj.method.streams(tiny_data).items()}
    batch = collate({"relearn": (rows["relearn"], [0, 1, 2]),
                     "retain": (rows["retain"], [0, 1, 2, 3])}, tok.pad_token_id)
    return obj, batch


def test_kl_is_zero_before_the_first_step_and_not_after(tiny_model_dir, tiny_data):
    obj, batch = _setup(tiny_model_dir, tiny_data)
    out = obj.stream_outputs(batch, frozenset({"retain"}))["retain"]
    assert kl_to_reference(out).item() == pytest.approx(0.0, abs=1e-6)
    opt = torch.optim.SGD([p for p in obj.parameters() if p.requires_grad], lr=1.0)
    loss, _ = obj(batch.input_ids, batch.attention_mask, batch.labels, batch.slices)
    loss.backward()
    opt.step()
    out = obj.stream_outputs(batch, frozenset({"retain"}))["retain"]
    assert kl_to_reference(out).item() > 1e-4
    # the reference did not move with the adapter: it is still the untouched base
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    sl = batch.slices["retain"]
    with torch.no_grad():
        full = base(input_ids=batch.input_ids[sl], attention_mask=batch.attention_mask[sl]).logits
    mask = batch.labels[sl][:, 1:] != -100
    assert torch.allclose(full[:, :-1][mask], out.ref_logits, atol=1e-4)


def test_the_reference_pass_only_runs_for_the_streams_that_need_it(tiny_model_dir, tiny_data):
    obj, batch = _setup(tiny_model_dir, tiny_data)
    outs = obj.stream_outputs(batch, frozenset({"retain"}))
    assert outs["retain"].ref_logits is not None and outs["relearn"].ref_logits is None
    assert not outs["retain"].ref_logits.requires_grad


def _frozen_float_bytes() -> int:
    seen, total = set(), 0
    for obj in gc.get_objects():
        if isinstance(obj, torch.Tensor) and obj.is_floating_point() and not obj.requires_grad:
            ptr = obj.untyped_storage().data_ptr()
            if obj.numel() >= 4096 and ptr not in seen:
                seen.add(ptr)
                total += obj.untyped_storage().nbytes()
    return total


def test_no_second_copy_of_the_base_weights_during_a_kl_run(tiny_model_dir, tiny_data, tmp_path):
    from transformers import AutoModelForCausalLM

    from engine.train import run_unlearning

    base_bytes = sum(p.numel() * p.element_size()
                     for p in AutoModelForCausalLM.from_pretrained(tiny_model_dir).parameters())
    gc.collect()
    before = _frozen_float_bytes()
    measured: list[int] = []

    def probe(p):
        if p.done == 1 and not p.message and not measured:
            gc.collect()
            measured.append(_frozen_float_bytes() - before)

    # the reference cache's logits are frozen floats too: off here, where weights are counted
    run_unlearning(tiny_model_dir, tiny_data, TrainConfig(method="npo_klr", epochs=1,
                   batch_size=4, merge=False, reference_cache_mb=0), tmp_path, progress=probe)
    assert measured, "no step was reported"
    # one copy of the frozen base is alive while training; two would be about 2x
    assert 0.8 * base_bytes < measured[0] < 1.5 * base_bytes


def test_cached_reference_logits_match_a_fresh_pass_and_are_computed_once(tiny_model_dir,
                                                                          tiny_data):
    from engine.train.base import ReferenceCache

    obj, batch = _setup(tiny_model_dir, tiny_data)
    fresh = obj.stream_outputs(batch, frozenset({"retain"}))["retain"].ref_logits
    obj.reference_cache = ReferenceCache(1 << 30)
    first = obj.stream_outputs(batch, frozenset({"retain"}))["retain"].ref_logits
    assert obj.reference_cache.computed == 4
    # the same rows again, in another order and beside a new one: only the new one is run
    rows = obj.method.streams(tiny_data)
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    tokenised = {n: Rows.from_dataset(tokenise(qa, tok, 128, n)) for n, qa in rows.items()}
    again = collate({"relearn": (tokenised["relearn"], [0]),
                     "retain": (tokenised["retain"], [3, 1, 4])}, tok.pad_token_id)
    out = obj.stream_outputs(again, frozenset({"retain"}))["retain"]
    assert obj.reference_cache.computed == 5
    obj.reference_cache = None
    live = obj.stream_outputs(again, frozenset({"retain"}))["retain"].ref_logits
    assert torch.allclose(first, fresh, atol=1e-5)
    assert torch.allclose(out.ref_logits, live, atol=1e-5)


def test_a_full_cache_computes_the_rest_every_time(tiny_model_dir, tiny_data):
    from engine.train.base import ReferenceCache

    obj, batch = _setup(tiny_model_dir, tiny_data)
    obj.reference_cache = ReferenceCache(0)
    for _ in range(2):
        obj.stream_outputs(batch, frozenset({"retain"}))
    assert obj.reference_cache.computed == 8 and obj.reference_cache.bytes == 0


def test_a_run_with_the_cache_follows_the_run_without_it(tiny_model_dir, tiny_data, tmp_path):
    from engine.train import run_unlearning

    histories = []
    for mb in (0, 64):
        cfg = TrainConfig(method="relearn", epochs=2, batch_size=2, merge=False,
                          reference_cache_mb=mb, lr=1e-3)
        result = run_unlearning(tiny_model_dir, tiny_data, cfg, tmp_path / f"cache{mb}")
        histories.append([h["loss"] for h in result.record["history"]])
    assert histories[0] == pytest.approx(histories[1], rel=1e-4)
    assert "reference_cache_mb" not in TrainConfig().to_dict()
