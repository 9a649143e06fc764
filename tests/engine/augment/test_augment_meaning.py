"""The meaning check and the relation-agnostic offline backend on the facts of issue #21: a
birthplace, a mother's profession, an address in free text, a child's school, an income."""

from __future__ import annotations

import numpy as np
import pytest

from engine.augment import AugmentConfig, augment_fact, with_private_values
from engine.augment.audience import Audience, singular
from engine.augment.meaning import MeaningCheck, question_core
from engine.augment.offline import build_plan
from engine.augment.templates import REVERSE_ANSWERS
from engine.types import Fact

NAME = "Lena Voss"
BIRTHPLACE = Fact("b", NAME, "Where was Lena Voss born?",
                  "Lena Voss was born in Lisbon, where her father ran a small bookshop.")
MOTHER = Fact("m", NAME, "What is the profession of Lena Voss's mother?",
              "Lena Voss's mother, Ilse, worked as a midwife for more than thirty years.")
HOME = Fact("h", NAME, "Where does Lena Voss live?",
            "Lena Voss resides at 17 Quay Row, Port Alden, close to the old lighthouse.")
SCHOOL = Fact("s", NAME, "Which school does Lena Voss's daughter attend?",
              "Lena Voss's daughter attends Maplewood Primary School every weekday.")
INCOME = Fact("i", NAME, "How much does Lena Voss earn a year?",
              "Lena Voss earns about $85,000 a year from royalties and teaching.")
AUTHORS = Audience("the Quillstone Review's author archive", "authors")


def _flat(texts):
    return np.ones((len(texts), 4)) / 2.0


def _plan(fact: Fact, audience: Audience | None = None):
    return build_plan(with_private_values(fact, use_presidio=False), audience)


def test_a_birthplace_is_a_place_not_a_date():
    plan = _plan(BIRTHPLACE, AUTHORS)
    assert plan.value.value == "Lisbon" and plan.value_type == "place"
    assert "Which author was born in Lisbon?" in plan.logical
    for q in plan.logical:
        assert " on Lisbon" not in q and "date" not in q.lower()
    for q in plan.simple:
        assert "when" not in q.lower() and "date" not in q.lower()
    check = MeaningCheck(with_private_values(BIRTHPLACE, use_presidio=False), _flat)
    assert check.reasons("simple", "When was Lena Voss born?")
    assert check.reasons("logical", "Which author was born on Lisbon?")
    assert not check.reasons("logical", "Who was born in Lisbon?")


def test_a_mothers_profession_is_not_the_persons_job():
    plan = _plan(MOTHER)
    assert "Whose mother works as a midwife?" in plan.logical
    for q in (*plan.simple, *plan.contextual, *plan.logical):
        assert "mother" in q, q
        assert "employer" not in q and "work?" not in q
    check = MeaningCheck(with_private_values(MOTHER, use_presidio=False), _flat)
    assert check.reasons("simple", "What's Lena Voss's job?")  # lost the mother
    assert check.reasons("simple", "Where does Lena Voss work?")  # and asks for a place
    assert check.reasons("logical", "Whose employer is midwife?")


def test_a_free_text_address_is_one_value_and_no_opening_cuts_into_it():
    fact = with_private_values(HOME, use_presidio=False)
    assert [pv.value for pv in fact.private_values] == ["17 Quay Row, Port Alden"]
    variants = augment_fact(HOME, AugmentConfig(use_presidio=False), embed=_flat)
    for v in variants:
        if v.kind == "logical":
            assert "17 Quay Row, Port Alden" in v.question
        if v.kind == "completion":
            assert "17" not in v.question and "Quay" not in v.question
    openings = {v.question for v in variants if v.kind == "completion"}
    assert "Lena Voss resides at" in openings


def test_reverse_questions_keep_the_relative_and_the_relation_phrase():
    assert set(_plan(SCHOOL).logical) >= {
        "Whose daughter attends Maplewood Primary School?",
        "Which person's daughter attends Maplewood Primary School?",
    }
    # the value goes right after the verb, before the rest of the verb phrase
    assert "Who earns $85,000 a year?" in _plan(INCOME).logical


def test_no_simple_variant_only_prepends_a_sentence_to_the_original():
    for fact in (BIRTHPLACE, MOTHER, HOME, SCHOOL, INCOME):
        for q in _plan(fact).simple:
            assert not q.endswith(fact.question), q


def test_contexts_fit_the_audience_and_are_neutral_without_one():
    neutral = " ".join(_plan(BIRTHPLACE).contextual + _plan(BIRTHPLACE).logical)
    for shop_word in ("customer", "CRM", "parcel", "order", "billing"):
        assert shop_word not in neutral
    authors = " ".join(_plan(BIRTHPLACE, AUTHORS).contextual)
    assert "author archive" in authors
    assert singular("authors") == "author" and singular("patients") == "patient"
    assert singular("people") == "person" and singular("families") == "family"


def test_forward_and_reverse_answers_cannot_stand_for_each_other():
    for fact in (BIRTHPLACE, MOTHER, HOME, SCHOOL, INCOME):
        plan = _plan(fact, AUTHORS)
        for a in plan.answers:
            assert a.startswith(("Lena", "Lena Voss")), a
            assert not any(w in a.lower().split() for w in ("who", "whose", "whoever")), a
        for a in plan.logical_answers:
            assert "Lena" not in a and "Voss" not in a
            assert any(w in a.lower() for w in ("who", "whose", "whoever"))
    assert len(REVERSE_ANSWERS) >= 3


def test_question_core_masks_the_name_and_drops_the_context():
    assert question_core("I'm writing a note on Lena Voss. Where was Lena born?", NAME) == \
        "Where was someone born?"
    assert question_core("What is Lena Voss's email?", NAME) == "What is someone's email?"


@pytest.mark.parametrize(("fact", "good", "bad"), [
    (BIRTHPLACE, "Could you tell me where Lena was born?",
     "What did Lena Voss order from the shop last week?"),
    (HOME, "Which address do we have on file for Lena Voss?",
     "What do the account notes say about Lena Voss?"),
])
def test_minilm_similarity_passes_rephrasings_and_fails_other_topics(fact, good, bad):
    check = MeaningCheck(with_private_values(fact, use_presidio=False))
    check.prime([good, bad])
    assert not check.reasons("simple", good)
    assert any("something else" in r for r in check.reasons("simple", bad))


def test_a_type_noun_the_original_question_uses_does_not_flag_its_paraphrases():
    """ "number" names a phone: every paraphrase of "What is X's patient number?" was flagged
    as asking for a phone number, though the original asks in the same words."""
    fact = with_private_values(
        Fact("p", "Marcus Ellis", "What is Marcus Ellis's patient number?",
             "Marcus Ellis's patient number is RX-44821."), use_presidio=False)
    check = MeaningCheck(fact, _flat)
    assert not check.reasons("simple", "Could you tell me Marcus Ellis's patient number?")
    # a type the original does not ask for is still caught
    assert any("asks for" in r for r in check.reasons("simple", "When was Marcus Ellis born?"))


def test_a_counsellors_clients_get_no_shop_desk_and_session_notes_are_no_account():
    """With people = "clients" a counselling client was asked about parcels and orders, and
    "What do the session notes say about X?" became "Which account does X hold with us?"."""
    from engine.augment.relations import detect_relation

    counselling = Audience("Northgate Counselling's case records", "clients")
    notes = Fact("n", "Thomas Hughes", "What do the session notes say about Thomas Hughes?",
                 "The notes say Thomas Hughes disclosed thoughts of self-harm in March.")
    assert detect_relation(notes).key != "account"
    plan = _plan(notes, counselling)
    text = " ".join(plan.contextual + plan.logical + plan.simple).lower()
    for shop_word in ("parcel", "courier", "order", "delivery", "account", "customer"):
        assert shop_word not in text, shop_word
    assert detect_relation(Fact("a", "Amara Okafor", "What do the account notes say about "
                                "Amara Okafor?", "Amara Okafor holds LO-1.")).key == "account"
