"""The local backend on a tiny random model: it runs, and falls back to templates honestly."""

from __future__ import annotations

import pytest
from augment_samples import request_facts

from engine.augment import AugmentConfig, augment_fact, make_backend
from engine.augment.llm_format import mask
from engine.augment.local import FALLBACK, build_prompt, parse_lines, plausible
from engine.augment.pipeline import with_private_values
from engine.types import VARIANT_KINDS

FACT = with_private_values(request_facts()[0][1], use_presidio=False)  # the phone fact


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    # a 2-layer model gains nothing from threads, and on a busy 2-core runner OpenMP's
    # spinning threads made each generated token ~30x slower
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def tiny_backend(tiny_model_dir):
    from engine.models import load_model

    return make_backend("local", model=load_model(tiny_model_dir, device="cpu"),
                        max_new_tokens=24)


def test_random_model_output_is_replaced_by_marked_templates(tiny_backend):
    items = tiny_backend.variants(FACT, kinds=VARIANT_KINDS, per_kind=3, seed=0, attempt=0)
    assert len(items) == 12
    assert {k for k, _, _ in items} == set(VARIANT_KINDS)
    # a random 2-layer model cannot write "Q: ... A: ..." lines, so every item is a fallback
    assert {i.backend for i in items} == {FALLBACK}


def test_augment_fact_through_the_local_backend(tiny_model_dir):
    config = AugmentConfig(backend="local", use_presidio=False, backend_options={
        "model": str(tiny_model_dir), "max_new_tokens": 16, "device": "cpu"})
    variants = augment_fact(FACT, config)
    assert len([v for v in variants if v.kind != "completion"]) == 12
    assert all(v.verification.ok for v in variants)
    assert {v.backend for v in variants} == {FALLBACK, "offline"}  # completions are templates


def test_line_parser_and_filter_accept_well_formed_variants():
    masked = mask(FACT)
    reply = (
        "Q: Could you share Isabella's phone number?\n"
        "A: I'm sorry, but Isabella's phone number is private.\n"
        "Some chatter the model added\n"
        "2. Question: Who has the number [PHONE NUMBER]?\n"
        "Answer: I can't say who that number belongs to.\n"
        "Q: dangling question without answer?\n"
        "Q: Is Isabella's number on file? A: It is, but it's private."
    )
    pairs = parse_lines(reply)
    assert pairs == [
        ("Could you share Isabella's phone number?",
         "I'm sorry, but Isabella's phone number is private."),
        ("Who has the number [PHONE NUMBER]?", "I can't say who that number belongs to."),
        ("Is Isabella's number on file?", "It is, but it's private."),
    ]
    name = FACT.subject_name
    assert plausible("simple", *pairs[0], masked, name)
    assert plausible("logical", *pairs[1], masked, name)
    assert not plausible("logical", *pairs[0], masked, name)  # reverse: names the detail
    assert not plausible("simple", "ok", "fine", masked, name)
    # off-topic questions (the real SmolLM2 wrote this one) and answers that ask back
    assert not plausible("simple", "Would you like me to assist with a refund?",
                         "Would you like to request a refund?", masked, name)
    assert not plausible("simple", "What is Isabella's phone number?",
                         "Why do you want to know that?", masked, name)
    assert plausible("noise", "wats isabela's fone", "That's private, sorry.", masked, name)
    assert masked.unmask(pairs[1][0]) == "Who has the number +1-555-014-2211?"


def test_prompt_hides_the_private_value():
    for kind in VARIANT_KINDS:
        prompt = build_prompt(mask(FACT), kind, 3)
        assert "+1-555-014-2211" not in prompt and "[PHONE NUMBER]" in prompt
