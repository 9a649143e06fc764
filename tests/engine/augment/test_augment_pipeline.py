"""augment_fact / augment_facts: regeneration and flagging, held-out probes, progress, summary."""

from __future__ import annotations

import json
import re

import pytest
from augment_samples import request_facts

from engine.augment import (
    AugmentConfig,
    AugmentError,
    Draft,
    augment_fact,
    augment_facts,
    make_backend,
    summarise,
    with_private_values,
)
from engine.progress import Cancelled, CancelToken
from engine.types import VARIANT_KINDS, Fact

# these tests are about generation, regeneration and flagging: the meaning check (its own tests
# in test_augment_meaning.py) would flag the stub backends' placeholder questions too
FAST = AugmentConfig(use_presidio=False, meaning_check=False)
EMAIL_FACT = request_facts()[0][0]  # Isabella Marquez's email address
EMAIL = "isabella.marquez@example.org"


class LeakyBackend:
    """Writes answers that repeat the private value on every attempt before ``honest_from``."""

    name = "leaky"

    def __init__(self, honest_from: int | None = None) -> None:
        self.honest_from = honest_from
        self.calls: list[tuple[tuple[str, ...], int]] = []

    def variants(self, fact, *, kinds, per_kind, seed, attempt):
        self.calls.append((tuple(kinds), attempt))
        value = fact.private_values[0].value
        leak = self.honest_from is None or attempt < self.honest_from
        out = []
        for kind in kinds:
            for i in range(per_kind):
                answer = (f"Sure, it is {value}." if leak
                          else "I'm sorry, but that contact detail is private.")
                # a reverse question asks back with the value, the others name the person
                about = value if kind == "logical" else fact.subject_name
                out.append((kind, f"Question {kind} {i} try {attempt} about {about}?",
                            answer))
        return out


def test_a_variant_that_keeps_leaking_is_flagged_after_three_regenerations():
    backend = LeakyBackend()
    variants = augment_fact(EMAIL_FACT, FAST, backend)
    questions = [v for v in variants if v.kind != "completion"]
    assert len(questions) == 12
    for v in questions:
        assert not v.verification.ok
        assert v.attempts == 1 + FAST.max_attempts == 4
        assert v.backend == "leaky"
        assert "contains the fact's email address" in v.verification.reasons
        assert not any(EMAIL in r for r in v.verification.reasons)
        assert EMAIL in v.answer  # kept as it is, for the reviewer to see and fix
        assert "try 3" in v.question  # the last regeneration is the one kept
    # one regeneration call per kind and attempt, after the first full call
    assert backend.calls[0] == (VARIANT_KINDS, 0)
    assert sorted(backend.calls[1:]) == sorted(
        ((k,), a) for k in VARIANT_KINDS for a in (1, 2, 3)
    )


def test_a_variant_that_leaks_once_is_regenerated_and_passes():
    variants = augment_fact(EMAIL_FACT, FAST, LeakyBackend(honest_from=1))
    questions = [v for v in variants if v.kind != "completion"]
    assert all(v.verification.ok and v.attempts == 2 for v in questions)
    assert all("try 1" in v.question for v in questions)


def test_max_attempts_zero_flags_without_regenerating():
    backend = LeakyBackend()
    config = AugmentConfig(use_presidio=False, max_attempts=0, meaning_check=False)
    variants = augment_fact(EMAIL_FACT, config, backend)
    assert len(backend.calls) == 1
    assert all(v.attempts == 1 and not v.verification.ok
               for v in variants if v.kind != "completion")


def test_partial_values_and_repeated_details_are_caught():
    fact = request_facts()[0][4]  # Isabella works as a logistics planner at Northwind Freight.

    class Chatty:
        name = "chatty"

        def variants(self, fact, *, kinds, per_kind, seed, attempt):
            return [
                ("simple", "Where does Isabella work?", "Isabella is a logistics planner."),
                ("simple", "Who employs Isabella?", "A company called Northwind, I believe."),
                ("simple", "What is Isabella's job?", "I can't share Isabella's job."),
            ]

    config = AugmentConfig(use_presidio=False, kinds=("simple",), max_attempts=0, completions=0,
                           meaning_check=False)
    variants = augment_fact(fact, config, Chatty())
    assert [v.verification.ok for v in variants] == [False, False, True]
    # the job title is a private value of its own since professions are detected in free text
    # (it used to be caught only as a repeated detail)
    assert variants[0].verification.reasons == ("contains the fact's profession",)
    assert variants[1].verification.reasons == ("contains part of the fact's employer",)


def test_held_out_share_is_spread_across_kinds_and_never_takes_completions():
    for share, expected in ((0.25, 3), (0.5, 6), (0.0, 0), (0.01, 1)):
        config = AugmentConfig(use_presidio=False, held_out_share=share, meaning_check=False)
        for fact in request_facts()[2]:
            variants = augment_fact(fact, config)
            held = [v for v in variants if v.held_out]
            assert len(held) == expected
            assert all(v.kind != "completion" for v in held)
            assert len({v.kind for v in held}) == min(expected, 4)
            # every kind keeps variants to train on
            for kind in VARIANT_KINDS:
                assert any(v.kind == kind and not v.held_out for v in variants)


def test_completion_items_open_like_the_answer_and_hold_no_private_value():
    for fact in request_facts()[1]:
        fact_pv = with_private_values(fact, use_presidio=False)
        completions = [v for v in augment_fact(fact, FAST) if v.kind == "completion"]
        assert len(completions) == 3
        # two stop at the value's doorstep: the opening is the answer up to its first value
        first = min(fact.answer.lower().find(pv.value.lower()) for pv in fact_pv.private_values)
        # an article is glued to the value that follows it ("works as a pharmacist")
        doorstep = re.sub(r"\s+(?:a|an|the)$", "", fact.answer[:first].strip())
        assert [v.question for v in completions[:2]] == [doorstep, doorstep]
        # the last opens with the answer's first quarter
        last = completions[2]
        assert len(last.question.split()) <= max(1, round(0.25 * len(fact.answer.split())))
        for v in completions:
            assert fact.answer.startswith(v.question + " ")
            for pv in fact_pv.private_values:
                assert pv.value not in v.question and pv.value not in v.answer
            assert v.verification.ok and v.answer.endswith(".")


@pytest.mark.parametrize(("answer", "opening", "continuation"), [
    ("Ana Lind lives at 9 Elm Road, Dover.", "Ana Lind lives at", "an address I can't disclose."),
    ("Ana Lind's phone number is +1-555-010-2030.", "Ana Lind's phone number is",
     "private, so I can't share it."),
])
def test_doorstep_items_stop_just_before_the_value(answer, opening, continuation):
    from engine.augment.completion import doorstep_pairs
    from engine.augment.offline import build_plan

    question = "Where does Ana Lind live?" if "lives" in answer else "What is Ana Lind's phone?"
    fact = with_private_values(Fact("f", "Ana Lind", question, answer), use_presidio=False)
    pairs = doorstep_pairs(fact, build_plan(fact))
    assert pairs[0] == (opening, continuation)
    assert len(pairs) == 2 and len({c for _, c in pairs}) == 2


def test_no_doorstep_item_when_the_answer_opens_with_its_value_or_holds_none():
    from engine.augment.completion import doorstep_pairs
    from engine.augment.offline import build_plan

    opens = with_private_values(Fact("f", "Ana Lind", "What is Ana Lind's email?",
                                     "ana.lind@example.org is Ana Lind's email."),
                                use_presidio=False)
    plain = Fact("g", "Ana Lind", "Does Ana Lind like tea?", "Ana Lind likes tea.")
    for fact in (opens, plain):
        assert doorstep_pairs(fact, build_plan(fact)) == []


def test_a_completion_row_trains_only_the_continuation():
    from engine.augment import completion_row

    row = completion_row("Where does Ana live?", "Ana lives at", "an address I can't disclose.")
    assert row.question == "Where does Ana live?"
    assert row.answer == "Ana lives at an address I can't disclose."
    assert [row.answer[s:e] for s, e in row.targets] == ["an address I can't disclose."]


def test_variants_record_kind_backend_seed_and_verification():
    config = AugmentConfig(use_presidio=False, seed=11, meaning_check=False)
    variants = augment_fact(EMAIL_FACT, config)
    assert {v.kind for v in variants} == {*VARIANT_KINDS, "completion"}
    assert all(v.seed == 11 and v.backend == "offline" and v.fact_id == EMAIL_FACT.fact_id
               for v in variants)
    assert all(v.verification.ok and v.attempts == 1 for v in variants)


def test_augment_facts_reports_progress_hands_out_results_and_cancels():
    facts = request_facts()[0]
    events, seen = [], []
    variants = augment_facts(facts, FAST, progress=events.append,
                             on_fact=lambda f, vs: seen.append((f.fact_id, len(vs))))
    assert [e.done for e in events] == list(range(len(facts) + 1))
    assert all(e.stage == "augment" and e.total == len(facts) for e in events)
    assert [fid for fid, _ in seen] == [f.fact_id for f in facts]
    assert sum(n for _, n in seen) == len(variants) == 15 * len(facts)
    for e in events:  # progress never quotes the facts
        assert "Isabella" not in e.message and "@" not in e.message

    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        augment_facts(facts, FAST, cancel=token)


def test_summary_counts_and_holds_no_text():
    variants = augment_fact(EMAIL_FACT, FAST) + augment_fact(EMAIL_FACT, FAST, LeakyBackend())
    summary = summarise(variants)
    assert summary["items"] == 30 and summary["facts"] == 1
    assert summary["flagged"] == 12
    assert summary["flag_reasons"] == {
        "contains the fact's email address": 12, "contains an email address": 12
    }
    assert summary["backends"] == {"offline": 18, "leaky": 12}
    text = json.dumps(summary)
    assert EMAIL not in text and "Isabella" not in text and "Marquez" not in text


class Mute:
    name = "mute"

    def __init__(self) -> None:
        self.calls = 0

    def variants(self, fact, **_):
        self.calls += 1
        return [("simple", "", ""), ("bogus-kind", "Q?", "A."), "not a triple"]


def test_a_backend_that_writes_nothing_usable_is_asked_again_then_the_offline_generator_fills_in():
    mute, notes = Mute(), {}
    variants = augment_fact(EMAIL_FACT, FAST, mute, notes=notes)
    questions = [v for v in variants if v.kind != "completion"]
    assert len(questions) == 12  # per_kind of every kind, all from the templates
    assert {v.backend for v in questions} == {"mute+offline"}
    # one first call, then max_attempts re-asks per short kind (and the regenerations of any
    # template variant that fails verification ask the backend again too)
    assert mute.calls >= 1 + FAST.max_attempts * len(VARIANT_KINDS)
    assert set(notes) == set(VARIANT_KINDS)
    assert all("mute+offline" in n and "Isabella" not in n for n in notes.values())


def test_the_offline_backend_producing_nothing_is_an_error_naming_only_the_fact_id():
    class MuteOffline(Mute):
        name = "offline"

    with pytest.raises(AugmentError, match="DSR-2026-0041/0") as info:
        augment_fact(EMAIL_FACT, FAST, MuteOffline())
    assert "Isabella" not in str(info.value)


def test_drafts_unpack_like_triples_and_keep_their_source():
    d = Draft("simple", "Q?", "A.", "local+offline")
    kind, question, answer = d
    assert (kind, question, answer, d.backend) == ("simple", "Q?", "A.", "local+offline")


@pytest.mark.parametrize(
    "kwargs",
    [{"per_kind": 0}, {"held_out_share": 1.0}, {"kinds": ("simple", "riddles")}, {"kinds": ()},
     {"max_attempts": -1}],
)
def test_bad_config_is_refused_naming_the_field(kwargs):
    with pytest.raises(ValueError, match="AugmentConfig"):
        AugmentConfig(**kwargs)


def test_unknown_backend_and_options_are_refused():
    with pytest.raises(AugmentError, match="unknown augmentation backend 'gpt'"):
        make_backend("gpt")
    with pytest.raises(AugmentError, match="offline backend takes no options"):
        make_backend("offline", model="x")


def test_private_values_are_filled_in_when_the_caller_gave_none():
    bare = Fact("x", "Isabella Marquez", EMAIL_FACT.question, EMAIL_FACT.answer)
    assert [pv.value for pv in with_private_values(bare, use_presidio=False).private_values] == [
        EMAIL
    ]
