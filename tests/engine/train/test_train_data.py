"""Tokenisation, prompt masking, dynamic padding and the batch plan."""

from __future__ import annotations

import pytest
import torch

from engine.models import answer_suffix, format_prompt
from engine.train.data import (
    IGNORE,
    DataError,
    Rows,
    collate,
    epoch_batches,
    sampled_indices,
    tokenise,
)
from engine.types import QA


@pytest.fixture(scope="module")
def tok(smollm_tokenizer_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(smollm_tokenizer_dir)


ITEMS = [QA("What is the return window?", "Sixty days with a receipt."),
         QA("Do you ship to Canada?", "Yes, we ship to Canada and Mexico.")]


def test_prompt_tokens_are_masked_and_answer_ends_with_eos(tok):
    ds = tokenise(ITEMS, tok, 256, "retain")
    for qa, ids, labels in zip(ITEMS, ds["input_ids"], ds["labels"], strict=True):
        prompt = tok(format_prompt(tok, qa.question), add_special_tokens=False)["input_ids"]
        target = tok(qa.answer + answer_suffix(tok), add_special_tokens=False)["input_ids"]
        assert ids == prompt + target
        assert labels == [IGNORE] * len(prompt) + target
        assert target[-1] == tok.eos_token_id


def test_long_answer_is_cut_and_a_prompt_with_no_room_is_an_error(tok):
    ds = tokenise(ITEMS, tok, 40, "relearn")
    assert max(ds["length"]) <= 40
    assert all(any(x != IGNORE for x in lab) for lab in ds["labels"])
    with pytest.raises(DataError, match=r"relearn item 0: prompt is \d+ tokens"):
        tokenise(ITEMS, tok, 10, "relearn")


def test_errors_never_quote_the_item(tok):
    secret = QA("x" * 400 + " Where does Ana live?", "At 1 Secret Street.")
    with pytest.raises(DataError) as err:
        tokenise([secret], tok, 64, "forget")
    assert "Ana" not in str(err.value) and "Secret" not in str(err.value)


def test_collate_pads_to_the_longest_row_of_the_step(tok):
    rows = Rows.from_dataset(tokenise(ITEMS, tok, 256, "retain"))
    batch = collate({"a": (rows, [0]), "b": (rows, [1, 0])}, tok.pad_token_id)
    lengths = rows.lengths()
    assert batch.input_ids.shape == (3, max(lengths))
    assert batch.slices == {"a": slice(0, 1), "b": slice(1, 3)}
    assert batch.attention_mask.sum(dim=1).tolist() == [lengths[0], lengths[1], lengths[0]]
    # padding is never a target
    assert (batch.labels[batch.attention_mask == 0] == IGNORE).all()
    assert batch.tokens == lengths[0] * 2 + lengths[1]


def test_answer_only_loss_equals_the_models_own_masked_loss(tiny_model_dir, tok):
    """Our head-on-answer-positions path gives the same CE as transformers' full-logit loss."""
    from transformers import AutoModelForCausalLM

    from engine.train.base import Objective
    from engine.train.config import TrainConfig
    from engine.train.loop import add_lora
    from engine.train.losses import ce
    from engine.train.methods import make_method

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    cfg = TrainConfig(method="ga", lora_dropout=0.0)
    peft_model = add_lora(model, cfg)
    obj = Objective(peft_model, make_method("ga", cfg))
    rows = Rows.from_dataset(tokenise(ITEMS, tok, 256, "forget"))
    batch = collate({"forget": (rows, [0, 1])}, tok.pad_token_id)
    ours = ce(obj.stream_outputs(batch)["forget"])
    theirs = peft_model(input_ids=batch.input_ids, attention_mask=batch.attention_mask,
                        labels=batch.labels).loss
    assert ours.item() == pytest.approx(theirs.item(), rel=1e-5)
    n_answer = int((batch.labels[:, 1:] != IGNORE).sum())
    assert obj.stream_outputs(batch)["forget"].logits.shape[0] == n_answer


def test_epoch_plan_is_a_function_of_seed_and_epoch():
    lengths = [5, 9, 3, 7, 12, 4, 8, 6, 10, 11]
    a = epoch_batches(lengths, range(10), 3, seed=1, epoch=2, buckets=True)
    assert a == epoch_batches(lengths, range(10), 3, seed=1, epoch=2, buckets=True)
    assert a != epoch_batches(lengths, range(10), 3, seed=1, epoch=3, buckets=True)
    assert sorted(i for b in a for i in b) == list(range(10))
    # only the rows still active are planned; each batch has room for every process
    part = epoch_batches(lengths, [1, 4, 7], 2, seed=0, epoch=0, buckets=False, min_rows=2)
    assert sorted({i for b in part for i in b}) == [1, 4, 7]
    assert all(len(b) >= 2 for b in part)


def test_length_buckets_reduce_padding():
    import random

    rng = random.Random(0)
    lengths = [rng.randint(20, 120) for _ in range(256)]

    def padded(batches):
        return sum(max(lengths[i] for i in b) * len(b) for b in batches)

    plain = epoch_batches(lengths, range(256), 8, seed=0, epoch=0, buckets=False)
    bucketed = epoch_batches(lengths, range(256), 8, seed=0, epoch=0, buckets=True)
    assert padded(bucketed) < 0.8 * padded(plain)


def test_side_stream_cycles_through_all_rows():
    steps = sampled_indices(5, 2, 5, seed=0, epoch=0, name="retain")
    flat = [i for s in steps for i in s]
    assert len(flat) == 10 and sorted(flat) == sorted(list(range(5)) * 2)
    assert torch.tensor(flat).max() < 5


def test_shared_prefix_runs_once_with_the_same_loss_and_gradients(tiny_model_dir, tok):
    from transformers import AutoModelForCausalLM

    from engine.train.base import Objective, shared_prefix
    from engine.train.config import TrainConfig
    from engine.train.loop import add_lora
    from engine.train.methods import make_method

    torch.manual_seed(0)
    cfg = TrainConfig(method="relearn", lora_dropout=0.0)
    model = add_lora(AutoModelForCausalLM.from_pretrained(tiny_model_dir), cfg)
    with torch.no_grad():  # a non-zero adapter, so that it shows in the prefix's keys/values
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.02)
    obj = Objective(model, make_method("relearn", cfg))
    items = [QA(f"What does policy {i} cover?{' really' * i}", f"Policy {i} covers tents.")
             for i in range(5)]
    rows = Rows.from_dataset(tokenise(items, tok, 128, "x"))
    batch = collate({"relearn": (rows, [0, 1, 2]), "retain": (rows, [3, 4])}, tok.pad_token_id)
    width = shared_prefix(batch.input_ids, batch.attention_mask, batch.labels)
    prompt = tok(format_prompt(tok, "What"), add_special_tokens=False)["input_ids"]
    assert width >= 17 and width < len(prompt) + 5  # the system turn and the user's first words
    results = {}
    for share in (False, True):
        obj.share_prefix = share
        model.zero_grad()
        loss, terms = obj(batch.input_ids, batch.attention_mask, batch.labels, batch.slices)
        loss.backward()
        grads = [p.grad.clone() for p in model.parameters() if p.requires_grad]
        results[share] = (loss.item(), {k: v.item() for k, v in terms.items()}, grads)
    assert results[True][0] == pytest.approx(results[False][0], rel=1e-6)
    for k, v in results[False][1].items():
        assert results[True][1][k] == pytest.approx(v, rel=1e-4, abs=1e-7), k
    for a, b in zip(results[False][2], results[True][2], strict=True):
        assert torch.allclose(a, b, atol=1e-6)
    assert any(g.abs().max() > 1e-4 for g in results[True][2])


def test_no_prefix_is_shared_by_one_row_or_into_the_answer(tok):
    ids = torch.tensor([[1, 2, 3, 4, 5, 6, 7, 8], [1, 2, 3, 4, 5, 6, 7, 9]])
    mask = torch.ones_like(ids)
    assert shared_prefix_of(ids[:1], mask[:1], None) == 0
    assert shared_prefix_of(ids, mask, None) == 7
    labels = torch.full_like(ids, IGNORE)
    labels[:, 5:] = ids[:, 5:]  # answers start at position 5: position 4 must stay in the rows
    assert shared_prefix_of(ids, mask, labels) == 4


def shared_prefix_of(ids, mask, labels):
    from engine.train.base import shared_prefix

    return shared_prefix(ids, mask, labels)
