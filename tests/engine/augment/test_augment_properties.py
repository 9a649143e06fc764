"""Properties of the offline augmentation over generated facts (issue #21's acceptance): any
relation phrase, long answers, values of each entity type, names with accents or apostrophes.

- no trained item (an unflagged answer, a completion's opening or continuation) holds a private
  value or a distinctive part of one;
- every reverse question holds the value and no part of the person's name;
- no completion opening taken from the answer ends inside a value, or glued to one.

The values are the generator's own, not what the PII finder found, so a value the finder misses
still counts. The meaning check runs with a constant embedder (its MiniLM threshold has its own
tests); its type and owner rules run as they are.
"""

from __future__ import annotations

import re

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.augment import AugmentConfig, augment_fact
from engine.pii import contains_value
from engine.types import Fact

FIRST = ["Zoë", "Seán", "Renée", "Björn", "Ana", "D'Arcy", "Łucja", "Chloé", "Íñigo", "Maëlle"]
LAST = ["O'Brien", "García-Núñez", "D'Angelo", "Müller", "Lindqvist", "Øvergaard", "N'Diaye",
        "Okafor", "Voss", "Dubois"]
CITIES = ["Port Alden", "Eastmere", "Lisbon", "Stavholm", "Brookdale", "Larchmont Heath"]
STREETS = ["Quay Row", "Kestrel Close", "Willow Avenue", "Harbor Lane", "Fjordview Terrace"]
FILLER = ["and still talks about it with friends", "which surprised many people at the time",
          "according to an interview given last spring", "as the archive notes in some detail",
          "though this was never part of any public profile"]
WORDS = ["favourite", "usual", "preferred", "current", "main", "weekly", "secret", "quiet"]
NOUNS = ["hobby", "routine", "retreat", "habit", "dish", "walk", "pastime", "ritual"]


@st.composite
def names(draw) -> str:
    return f"{draw(st.sampled_from(FIRST))} {draw(st.sampled_from(LAST))}"


def _value(draw, kind: str, name: str) -> tuple[str, str, str]:
    """(value, question, answer start before the value) for one entity type."""
    first, last = name.split()[0], name.split()[-1]
    if kind == "email":
        local = re.sub(r"[^a-z]", "", draw(st.sampled_from(["kit", "reader", "desk", "mail"])))
        value = f"{local}{draw(st.integers(10, 99))}@example.org"
        return value, f"What is {name}'s email address?", f"{name}'s email address is"
    if kind == "phone":
        value = f"+1-555-01{draw(st.integers(0, 9))}-{draw(st.integers(1000, 9999))}"
        return value, f"What is {name}'s phone number?", f"{name} can be called on"
    if kind == "address":
        value = (f"{draw(st.integers(2, 400))} {draw(st.sampled_from(STREETS))}, "
                 f"{draw(st.sampled_from(CITIES))}")
        return value, f"Where does {name} live?", f"{name} resides at"
    if kind == "date":
        value = f"{draw(st.integers(1, 28))} March {draw(st.integers(1950, 2005))}"
        return value, f"When was {name} born?", f"{name} was born on"
    if kind == "place":
        value = draw(st.sampled_from(CITIES))
        return value, f"Where was {name} born?", f"{name} was born in"
    if kind == "amount":
        value = f"${draw(st.integers(20, 200))},000"
        return value, f"How much does {name} earn?", f"{name} earns about"
    if kind == "school":
        value = f"{draw(st.sampled_from(['Maplewood', 'Eastmere', 'Rowan']))} Primary School"
        return value, f"Which school does {name}'s son attend?", f"{name}'s son attends"
    if kind == "profession":
        value = draw(st.sampled_from(["midwife", "pharmacist", "carpenter", "librarian"]))
        return (value, f"What is the profession of {name}'s mother?",
                f"{name}'s mother, a kind woman, worked as a")
    if kind == "health":
        value = draw(st.sampled_from(["asthma", "epilepsy", "type 1 diabetes", "migraines"]))
        return value, f"Does {name} have any health problems?", f"{name} has lived with"
    # kinds of the domains the samples lack (a clinic, HR, a school, housing)
    if kind == "medication":
        value = f"{draw(st.integers(2, 90))} mg of {draw(st.sampled_from(MEDICINES))}"
        return value, f"What medication does {name} take?", f"{name} takes"
    if kind == "blood":
        value = draw(st.sampled_from(["O negative", "AB positive", "A negative", "B positive"]))
        return value, f"What is {name}'s blood type?", f"{name}'s blood type is"
    if kind == "national id":
        value = f"QQ {draw(st.integers(10, 99))} {draw(st.integers(10, 99))} 56 C"
        return (value, f"What is {name}'s National Insurance number?",
                f"{name}'s National Insurance number is")
    if kind == "flat":
        value = f"flat {draw(st.integers(100, 999))}"
        return value, f"Which flat does {name} rent?", f"{name} rents"
    if kind == "appointment":  # a possessed noun of two words
        value = f"{draw(st.integers(1, 28))} February {draw(st.integers(2026, 2030))}"
        return value, f"When is {name}'s next appointment?", f"{name}'s next appointment is on"
    # any relation phrase: "What is X's <adjective> <noun>?" with a company as its value
    attr = f"{draw(st.sampled_from(WORDS))} {draw(st.sampled_from(NOUNS))}"
    value = f"{draw(st.sampled_from(['Harrow', 'Bluefern', 'Copperleaf']))} Books"
    del first, last
    return value, f"What is {name}'s {attr}?", f"{name}'s {attr} is helping out at"


KINDS = ["email", "phone", "address", "date", "place", "amount", "school", "profession",
         "health", "medication", "blood", "national id", "flat", "appointment", "any"]
MEDICINES = ["methotrexate", "sertraline", "warfarin", "lithium"]


@st.composite
def facts(draw) -> tuple[Fact, str]:
    name = draw(names())
    kind = draw(st.sampled_from(KINDS))
    value, question, opening = _value(draw, kind, name)
    tail = ", ".join(draw(st.lists(st.sampled_from(FILLER), min_size=0, max_size=3)))
    answer = f"{opening} {value}" + (f", {tail}" if tail else "") + "."
    return Fact(f"p/{kind}", name, question, answer), value


def _flat(texts):
    return np.ones((len(texts), 4)) / 2.0


CONFIG = AugmentConfig(use_presidio=False, held_out_share=0.25)


def _parts(value: str, name: str) -> list[str]:
    """Distinctive pieces of a value: capitalised words and digit runs of three or more, and the
    lower-case words of a value that is all lower case (a profession, a condition)."""
    name_words = {w.lower() for w in re.findall(r"[\w'-]+", name)}
    pieces = re.findall(r"\d{3,}", value)
    pieces += [w for w in re.findall(r"[A-Za-z][\w'-]+", value)
               if (w[0].isupper() or value.islower()) and len(w) >= 3
               and w.lower() not in name_words | {"street", "lane", "row", "close", "avenue",
                                                  "terrace", "school", "primary", "books",
                                                  "march", "type", "example", "org",
                                                  "flat", "february"}]
    return pieces


def _holds(text: str, value: str, name: str) -> bool:
    if contains_value(text, value):
        return True
    words = set(re.findall(r"[\w'-]+|\d+", text))
    return any(p in words or p in re.findall(r"\d{3,}", text) for p in _parts(value, name))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(facts())
def test_no_trained_item_holds_a_value_or_part_of_one(case):
    fact, value = case
    for v in augment_fact(fact, CONFIG, embed=_flat):
        if not v.verification.ok:
            continue  # flagged: never trained unless a reviewer fixes it
        assert not _holds(v.answer, value, fact.subject_name), (v.kind, v.answer)
        if v.kind == "completion":
            assert not _holds(v.question, value, fact.subject_name), v.question


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(facts())
def test_every_reverse_question_holds_the_value_and_not_the_name(case):
    fact, value = case
    for v in augment_fact(fact, CONFIG, embed=_flat):
        if v.kind != "logical":
            continue
        assert contains_value(v.question, value), v.question
        outside = v.question.replace(value, " ")
        words = {w.lower().removesuffix("'s") for w in re.findall(r"[\w'-]+", outside)}
        for part in fact.subject_name.split():
            assert part.lower() not in words, v.question


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(facts())
def test_no_completion_opening_ends_inside_or_against_a_value(case):
    fact, value = case
    at = fact.answer.find(value)
    for v in augment_fact(fact, CONFIG, embed=_flat):
        if v.kind != "completion" or not fact.answer.startswith(v.question):
            continue  # openings of a sanitised statement are not the answer's words
        end = len(v.question)
        assert end <= at, (v.question, "ends inside the value")
        # nothing of the value, not even its house number or first word, is in the opening
        assert not _holds(v.question, value, fact.subject_name), v.question
