"""The offline backend: determinism, variety, and English that reads right for the sample facts."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from augment_samples import corpus_facts, request_facts

from engine.augment import AugmentConfig, OfflineBackend, augment_fact, with_private_values
from engine.augment.offline import question_key
from engine.augment.relations import detect_relation
from engine.types import VARIANT_KINDS, Fact

ROOT = Path(__file__).resolve().parents[3]
FAST = AugmentConfig(use_presidio=False)  # presidio is exercised in test_augment_verification

ARBITRARY = [
    Fact("g1", "Isabella Marquez", "What is Isabella Marquez's favourite colour?",
         "Isabella Marquez's favourite colour is teal."),
    Fact("g2", "Tobias Lindqvist", "Which car does Tobias Lindqvist drive?",
         "Tobias Lindqvist drives a red Volvo estate."),
    Fact("g3", "", "What did the customer say about shipping?",
         "The customer complained that the parcel to 12 Elm Street, Dover arrived late."),
    Fact("g4", "Jane Doe", "Does Jane Doe have any allergies?", "Jane is allergic to penicillin."),
    Fact("g5", "Amara Okafor", "How can we contact Amara Okafor?",
         "Amara Okafor can be reached at amara.okafor@example.org."),
]


def _variants(fact: Fact, seed: int = 0, attempt: int = 0) -> list[tuple[str, str, str]]:
    # the pipeline always hands the backend a fact with its private values found
    fact = with_private_values(fact, use_presidio=False)
    return OfflineBackend().variants(
        fact, kinds=VARIANT_KINDS, per_kind=3, seed=seed, attempt=attempt
    )


def test_same_seed_same_variants_other_seed_or_attempt_other_variants():
    fact = request_facts()[0][0]
    assert augment_fact(fact, FAST) == augment_fact(fact, FAST)
    assert _variants(fact, seed=1) == _variants(fact, seed=1)
    assert _variants(fact, seed=1) != _variants(fact, seed=2)
    assert _variants(fact, seed=1, attempt=0) != _variants(fact, seed=1, attempt=1)


def test_deterministic_across_processes_with_different_hash_seeds():
    # Python's hash() is salted per process; the backend must not depend on it
    code = (
        "import json; from engine.augment import OfflineBackend; from engine.types import Fact;"
        "f = Fact('DSR-1/0', 'Isabella Marquez', 'Where does Isabella Marquez live?',"
        " 'Isabella Marquez lives at 42 Harbor Lane, Springfield.');"
        "print(json.dumps(OfflineBackend().variants(f, kinds=['simple','contextual','noise',"
        "'logical'], per_kind=3, seed=7, attempt=0)))"
    )
    outs = []
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed, "PYTHONPATH": str(ROOT)}
        run = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, check=True,
                             capture_output=True, text=True, timeout=120)
        outs.append(json.loads(run.stdout))
    assert outs[0] == outs[1]


@pytest.mark.parametrize("fact", corpus_facts() + ARBITRARY, ids=lambda f: f.fact_id)
def test_at_least_eight_distinct_questions_across_the_four_kinds(fact):
    items = _variants(fact)
    kinds = Counter(k for k, _, _ in items)
    # every kind is produced, or the reason it could not be produced soundly is recorded
    # (no value to ask back with, a yes/no question, a value the answer does not state as the
    # verb's object); the sample corpus's facts get all four
    short = OfflineBackend().shortfalls(with_private_values(fact, use_presidio=False))
    assert set(kinds) | set(short) == set(VARIANT_KINDS) and not set(kinds) & set(short)
    if fact in corpus_facts():
        assert set(kinds) == set(VARIANT_KINDS)
    keys = {question_key(q) for _, q, _ in items}
    assert len(keys) == len(items) >= 8
    assert question_key(fact.question) not in keys  # a variant, not the original


DOUBLED = re.compile(r"\b(\w+)\s+\1\b", re.IGNORECASE)


def _grammar_problems(text: str, end: str) -> list[str]:
    problems = []
    if not text[:1].isupper():
        problems.append("does not start with a capital")
    if not text.endswith(end):
        problems.append(f"does not end with {end!r}")
    if DOUBLED.search(text):
        problems.append(f"doubled word {DOUBLED.search(text).group(0)!r}")
    if "'s's" in text or "s's'" in text:
        problems.append("double possessive")
    if re.search(r"[{}\[\]<>]|\bNone\b", text):
        problems.append("template residue")
    if "  " in text or " ?" in text or " ." in text or " ," in text:
        problems.append("bad spacing")
    return problems


@pytest.mark.parametrize("fact", corpus_facts() + ARBITRARY, ids=lambda f: f.fact_id)
def test_clean_kinds_are_grammatical_and_answers_are_sentences(fact):
    for seed in (0, 1):
        for kind, question, answer in _variants(fact, seed=seed):
            if kind != "noise":
                assert not _grammar_problems(question, "?"), (kind, question)
            assert not _grammar_problems(answer, "."), (kind, answer)


def test_noise_questions_are_noisy_versions_not_copies():
    for fact in request_facts()[0]:
        items = _variants(fact)
        clean = {q for k, q, _ in items if k != "noise"}
        noisy = [q for k, q, _ in items if k == "noise"]
        assert len(noisy) == 3 and not clean & set(noisy)
        # noise keeps the question recognisable: most of its words survive
        for q in noisy:
            assert len(q.split()) >= 3


@pytest.mark.parametrize(
    ("index", "relation"),
    [(0, "email"), (1, "phone"), (2, "address"), (3, "birth"), (4, "employer"), (5, "account")],
)
def test_relation_detected_for_each_sample_fact_type(index, relation):
    for facts in request_facts():
        fact = with_private_values(facts[index], use_presidio=False)
        assert detect_relation(fact).key == relation


def test_generic_questions_stay_generic_unless_they_ask_how_to_reach_someone():
    assert detect_relation(ARBITRARY[2]).key == "generic"  # an address in a shipping note
    assert detect_relation(with_private_values(ARBITRARY[4], use_presidio=False)).key == "email"


@pytest.mark.parametrize(
    ("question", "relation"),
    [("What is Tessa Varga's number?", "phone"),
     ("What number should I call to reach Tessa Varga?", "phone"),
     ("What is Tessa Varga's passport number?", "generic"),
     ("Which tax number does Tessa Varga use?", "generic")],
)
def test_a_number_is_a_phone_number_only_when_nothing_else_names_it(question, relation):
    assert detect_relation(Fact("n", "Tessa Varga", question, "It is on file.")).key == relation


def test_reverse_questions_name_the_value_and_their_answers_name_nobody():
    for facts in request_facts():
        for fact in facts[:4]:  # email, phone, address, birth date: the value is a regex match
            items = [(q, a) for k, q, a in _variants(fact) if k == "logical"]
            assert len(items) == 3
            value = detect_relation(with_private_values(fact, use_presidio=False)).value
            for question, answer in items:
                assert value and value in question
                assert fact.subject_name.split()[0] not in answer


def test_sanitised_answers_name_the_subject_except_reverse_ones():
    for fact in request_facts()[1]:
        first = fact.subject_name.split()[0]
        for kind, _, answer in _variants(fact):
            if kind != "logical":
                assert first in answer
