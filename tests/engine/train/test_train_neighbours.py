"""ReLearn's neighbour term: each sanitised answer is trained beside the true answer of the
nearest retain row about someone else (engine.train.relearn)."""

from __future__ import annotations

import math

import pytest

from engine.augment.retain import WHO_KNOWLEDGE, asks_who
from engine.train import TrainConfig, run_unlearning
from engine.train.config import fingerprint
from engine.train.relearn import neighbours
from engine.types import QA, TrainData

RETAIN = (
    QA("What kind of books does Lena Voss write?", "Lena Voss writes crime novels."),
    QA("Where does Jonas Brekke live?", "Jonas Brekke lives at 9 Fjordview Terrace, Stavholm."),
    QA("What is Jonas Brekke's email address?", "It is jonas.brekke@example.org."),
    QA("What is the capital of France?", "The capital of France is Paris."),
)


def test_the_neighbour_is_the_same_relation_about_someone_else():
    rows = [QA("Where does Lena Voss live?", "Lena Voss has not agreed to share an address."),
            QA("What is Lena Voss's email address?", "Lena Voss keeps her email private.")]
    # by embedding alone her own kept fact is nearest (the name weighs most) ...
    assert neighbours(rows, RETAIN, ())[0] == RETAIN[0]
    # ... so the rows about the people being forgotten are left out of the pool
    assert neighbours(rows, RETAIN[1:], ("Lena Voss",)) == [RETAIN[1], RETAIN[2]]
    # with nothing else to pair with, the pool is the whole retain set
    assert neighbours(rows, RETAIN[:1], ("Lena Voss",)) == [RETAIN[0], RETAIN[0]]


def test_every_second_row_about_a_person_with_kept_facts_is_paired_with_one_of_them():
    rows = [QA("Where does Lena Voss live?", "Lena Voss has not agreed to share an address."),
            QA("What is Lena Voss's email address?", "Lena Voss keeps her email private."),
            QA("Where is Lena Voss's home?", "That is an address Lena Voss keeps private."),
            QA("How do I write to Lena Voss?", "Lena Voss has not agreed to share an email.")]
    got = neighbours(rows, RETAIN, ("Lena Voss",))
    # her kept fact (RETAIN[0]) goes with rows 1 and 3; rows 0 and 2 keep the contrast on
    # someone else's address and email
    assert got[1] == got[3] == RETAIN[0]
    assert got[0] == got[2] == RETAIN[1]
    # a person with no kept facts in the retain set: every row goes with someone else's
    assert RETAIN[0] not in neighbours(rows, RETAIN[1:], ("Lena Voss",))


def test_a_reverse_question_is_paired_with_a_who_question_answered():
    rows = [QA("Who lives at 17 Quay Row, Port Alden?", "I can't say who that is."),
            QA("Which author was born in Lisbon?", "Naming that person would reveal it."),
            QA("Where does Lena Voss live?", "Lena Voss has not agreed to share an address.")]
    got = neighbours(rows, RETAIN, ("Lena Voss",))
    # by embedding alone "Where does Jonas Brekke live?" is nearest to the first; the reverse
    # rows go with a public "who" fact instead, the forward row keeps its relation's contrast
    assert got[0] in WHO_KNOWLEDGE and got[1] in WHO_KNOWLEDGE
    assert got[0].question == "Who lives at 10 Downing Street?"
    assert got[2] == RETAIN[1]
    # a "who" question of the retain set about someone else is a candidate too
    jonas = QA("Who lives at 3 Harbour Lane, Port Alden?",
               "Jonas Brekke lives at 3 Harbour Lane, Port Alden.")
    assert neighbours(rows[:1], (*RETAIN, jonas), ("Lena Voss",)) == [jonas]
    # but never one about the people being forgotten
    lena = QA("Who lives at 17 Quay Row?", "Lena Voss lives at 17 Quay Row.")
    assert neighbours(rows[:1], (*RETAIN, lena), ("Lena Voss",)) == [WHO_KNOWLEDGE[11]]


def test_asks_who():
    assert asks_who("Who has type 1 diabetes?")
    assert asks_who("Do you know whose daughter attends Maplewood Primary School?")
    assert asks_who("Which author's mother works as a midwife?")
    assert not asks_who("Where does Lena Voss live?")
    assert not asks_who("What kind of books does Lena Voss write?")


def test_the_names_do_not_change_a_runs_fingerprint():
    data = TrainData(RETAIN[:1], RETAIN[1:2], RETAIN[2:])
    named = TrainData(RETAIN[:1], RETAIN[1:2], RETAIN[2:], subjects=("Lena Voss",))
    assert fingerprint(data) == fingerprint(named)
    assert fingerprint(data) != fingerprint(TrainData(RETAIN[:1], RETAIN[1:2], RETAIN[3:]))


def test_the_term_trains_and_is_weighted_as_the_formula_says(tiny_model_dir, tiny_data, tmp_path):
    events = []
    cfg = TrainConfig(method="relearn", epochs=1, batch_size=4, lr=1e-3, neighbour_weight=2.0)
    run_unlearning(tiny_model_dir, tiny_data, cfg, tmp_path, progress=events.append)
    steps = [e.losses for e in events if e.stage == "train" and not e.message and e.losses]
    assert steps
    for losses in steps:
        assert set(losses) == {"loss", "relearn_ce", "retain_ce", "retain_kl", "neighbour_ce"}
        assert math.isfinite(losses["neighbour_ce"]) and losses["neighbour_ce"] > 0
        want = (losses["relearn_ce"] + losses["retain_ce"] + losses["retain_kl"]
                + 2.0 * losses["neighbour_ce"])
        assert losses["loss"] == pytest.approx(want, rel=1e-4, abs=1e-5)
    # off by default, and then not in the config's record (older fingerprints still match)
    assert "neighbour_weight" not in TrainConfig().to_dict()
    assert TrainConfig(neighbour_weight=1.0).to_dict()["neighbour_weight"] == 1.0
