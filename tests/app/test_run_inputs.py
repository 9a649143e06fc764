"""One builder of a run's training data and probes: the application's run and the benches get
the same inputs from it (issue 23)."""

from __future__ import annotations

import pytest
from sqlmodel import select

from engine.run_inputs import (
    ProbeSettings,
    RequestItems,
    build_run_inputs,
    held_out_share,
    names_in,
    relation_key,
    split_others,
)
from engine.types import QA, Fact, PrivateValue, Variant
from relearn_tui import pipeline, runs
from relearn_tui.context import AppContext
from relearn_tui.importer import import_paths
from relearn_tui.store.models import Run
from tests.app.conftest import SAMPLE


def _item(fact: str, kind: str, question: str, held_out: bool = False) -> Variant:
    return Variant(fact, kind, question, "Ana keeps that private.", "offline", 0, held_out)


ANA = RequestItems(
    "DSR-1", "Ana Lind",
    (Fact("1", "Ana Lind", "What is Ana Lind's email?",
          "Ana Lind's email is ana@example.org, her phone +47 555 01 022.",
          (PrivateValue("email address", "ana@example.org"),
           PrivateValue("phone number", "+47 555 01 022"))),),
    (_item("1", "simple", "Can I have Ana Lind's email?"),
     _item("1", "noise", "whats ana linds mail"),
     _item("1", "logical", "Whose email is ana@example.org?", held_out=True),
     _item("1", "simple", "Ana's e-mail, please?")),
)
CORPUS = [
    QA("Where does Bo Berg live?", "Bo Berg lives at 12 Elm Road, Oslo."),
    QA("Where does Cy Dahl live?", "Cy Dahl lives at 3 Pine Road, Bergen."),
    # names Ana by her first name only: neither a retain probe nor a retain row
    QA("Who is our customer Ana?", "Ana is a customer since 2019."),
    # holds her private value without her name: never trained as something to keep
    QA("Which customer has the number +47 555 01 022?", "That is one of our customers."),
    QA("When do you open?", "We open at nine."),
    QA("How do returns work?", "Send the parcel back within thirty days."),
    # Ana's facts her request does not name: kept, one asked (retain_own), one trained
    QA("What does Ana Lind collect?", "Ana Lind collects old maps."),
    QA("Which sport does Ana Lind play?", "Ana Lind plays handball on Sundays."),
    # ... but not one that holds a value she asked to erase
    QA("How do we write to Ana Lind?", "We write to her at ana@example.org."),
]
KEPT = {"What does Ana Lind collect?", "Which sport does Ana Lind play?"}


def test_the_builder_follows_the_application_rules():
    settings = ProbeSettings(subject_probes=5, generic_probes=5, trained_per_fact=1,
                             retain_train_size=50, original_question_answers=2)
    data, probes = build_run_inputs([ANA], CORPUS, settings)
    assert data.forget == (QA(ANA.facts[0].question, ANA.facts[0].answer),)
    assert [qa.answer[a:b] for qa in data.values for a, b in qa.targets] == [
        "ana@example.org", "+47 555 01 022"]
    # the approved items in order, then the original question with distinct approved answers
    assert [qa.question for qa in data.relearn] == [
        "Can I have Ana Lind's email?", "whats ana linds mail", "Ana's e-mail, please?",
        ANA.facts[0].question]
    classic = ("forget_original", "forget_trained", "forget_heldout")
    assert [(p.group, p.question) for p in probes if p.group in classic] == [
        ("forget_original", ANA.facts[0].question),
        ("forget_trained", "Can I have Ana Lind's email?"),  # the first, capped at one
        ("forget_heldout", "Whose email is ana@example.org?")]
    # of each retain pool the probes take at most half, the rest trains: here one of two
    people = {"Where does Bo Berg live?", "Where does Cy Dahl live?"}
    generic = {"When do you open?", "How do returns work?"}
    asked = {p.group: {q.question for q in probes if q.group == p.group} for p in probes}
    assert len(asked["retain_subjects"]) == 1 and asked["retain_subjects"] < people
    assert len(asked["retain_generic"]) == 1 and asked["retain_generic"] < generic
    # the person's kept facts: one asked, tied to her request; the other trained
    own = [p for p in probes if p.group == "retain_own"]
    assert len(own) == 1 and own[0].request_key == "DSR-1" and own[0].question in KEPT
    trained = {qa.question for qa in data.retain}
    retain_asked = asked["retain_subjects"] | asked["retain_generic"] | {own[0].question}
    assert not trained & retain_asked
    assert trained >= (people | generic | KEPT) - retain_asked
    assert not trained & {"Who is our customer Ana?", "How do we write to Ana Lind?",
                          "Which customer has the number +47 555 01 022?"}
    assert data.subjects == ("Ana Lind",)

    kept, _ = build_run_inputs([ANA], CORPUS, ProbeSettings(subject_probes=0, generic_probes=0))
    assert {qa.question for qa in kept.retain} >= people | generic


def test_a_relation_is_its_question_without_the_names():
    assert relation_key("Where was Mariam Haddad born?") == "where was _ born?"
    assert relation_key("What is the profession of Tomás O'Brien's mother?") == (
        relation_key("What is the profession of Jonas Brekke's mother?"))
    assert relation_key("When do you open?") != relation_key("When do you close?")


def test_no_relation_is_held_out_whole():
    # four people's birthplaces and four unrelated pairs: at most two birthplaces are probes,
    # so the run still trains on someone's birthplace answered
    born = [QA(f"Where was {n} born?", f"{n} was born in Bergen.")
            for n in ("Mariam Haddad", "Chiara Benedetti", "Jonas Brekke", "Desmond Hart")]
    other = [QA(f"Question {w}?", "An answer.") for w in ("one", "two", "three", "four")]
    asked = held_out_share(born + other, 8)
    assert len(asked) == 4  # half of the pool
    assert sum(qa in born for qa in asked) == 2
    assert held_out_share(born, 8) == born[:2]
    assert held_out_share(other[:1], 8) == []  # half of one pair is none


def test_the_probes_take_half_of_a_small_pool_and_their_number_from_a_large_one():
    people = [QA(f"Where does {n} live?", f"At {i} Elm Road, Oslo.")
              for i, n in enumerate(["Bo Berg", "Cy Dahl", "Di Eng", "Ed Falk", "Fi Gran",
                                     "Gus Holm", "Hal Iver", "Ida Jul", "Jo Kvist", "Kai Lund"])]
    settings = ProbeSettings(subject_probes=3, generic_probes=0, retain_train_size=100)
    data, probes = build_run_inputs([ANA], people, settings)
    assert sum(p.group == "retain_subjects" for p in probes) == 3  # 3 <= 10 // 2
    data, probes = build_run_inputs([ANA], people[:4], settings)
    asked = {p.question for p in probes if p.group == "retain_subjects"}
    assert len(asked) == 2 and not asked & {qa.question for qa in data.retain}


def test_the_bench_builds_what_a_run_of_the_application_trains_and_asks(home, monkeypatch,
                                                                       tmp_path):
    import argparse

    import engine.subject
    from bench import methods

    ctx = AppContext.create(operator="ops", deployment=SAMPLE / "deployment.toml")
    ids = import_paths(ctx.store, [SAMPLE], secret=ctx.secret, actor="ops").created
    pipeline.augment_batch(ctx, pipeline.to_augment(ctx, ids))
    pipeline.approve_by_policy(ctx, ids)
    choice = pipeline.run_to_execute(ctx, ids)
    assert choice is not None and not choice.resumed
    with ctx.store.session() as s:
        run = s.exec(select(Run)).one()
    app_data, app_probes = runs.build_inputs(ctx, run)

    # the bench's scenario, as bench/methods.py and bench/leak_paths.py build it (without
    # building the real subject model)
    monkeypatch.setattr(engine.subject, "build_subject_model", lambda *a, **k: tmp_path)
    args = argparse.Namespace(deployment=SAMPLE, retain_subjects=None, retain_generic=None,
                              retain_train=None, trained_per_fact=None, original_answers=None,
                              subject_cache=tmp_path)
    scenario = methods.build_scenario(args, lambda _: None)
    assert scenario["subject"] == tmp_path
    assert scenario["data"] == app_data
    assert scenario["probes"] == app_probes


def test_a_run_does_not_resume_on_a_changed_corpus(ctx):
    ids = import_paths(ctx.store, [SAMPLE / "DSR-2026-0041.json"], secret=ctx.secret,
                       actor="alice").created
    pipeline.augment_batch(ctx, ids)
    pipeline.approve_by_policy(ctx, ids)
    choice = pipeline.run_to_execute(ctx, ids)
    assert choice is not None
    # the same batch again finds the queued run rather than starting a second one
    assert pipeline.run_to_execute(ctx, ids) == pipeline.RunChoice(choice.run_id, resumed=True)
    with ctx.store.session() as s:
        run = s.get(Run, choice.run_id)
    runs.build_inputs(ctx, run)
    corpus = ctx.deployment.corpus
    corpus.write_text(corpus.read_text().replace("Larkspur", "Lorkspur", 1))
    with pytest.raises(runs.RunError, match="changed since the run was created"):
        runs.build_inputs(ctx, run)


def test_other_peoples_facts_without_a_detected_value_are_not_generic_knowledge():
    # Ana's request forgets where she works; nothing in "Bo Berg works at the harbour" is a
    # value the regexes know, nor in Bo's hobby, but both are another person's facts
    works = Fact("2", "Ana Lind", "Where does Ana Lind work?", "Ana Lind works at Nordbank.",
                 (PrivateValue("organization", "Nordbank"),))
    ana = RequestItems("DSR-1", "Ana Lind", (works,), ())
    corpus = [QA("Where does Bo Berg work?", "Bo Berg works at the harbour."),
              QA("What does Bo Berg collect?", "Bo Berg collects stamps."),
              QA("When do you open?", "We open at nine."),
              QA("What does a harbour master do?", "A harbour master runs a port.")]
    personal, generic = split_others(corpus, {relation_key(works.question)})
    assert [qa.question for qa in generic] == ["When do you open?",
                                               "What does a harbour master do?"]
    _, probes = build_run_inputs([ana], corpus, ProbeSettings(subject_probes=5, generic_probes=5))
    groups = {p.question: p.group for p in probes if p.group.startswith("retain")}
    assert set(groups.values()) == {"retain_subjects", "retain_generic"}
    assert all(groups.get(qa.question, "retain_subjects") == "retain_subjects"
               for qa in personal)


def test_names_are_the_capitalised_runs_of_a_question():
    assert names_in("What is the profession of Tomás O'Brien's mother?") == ["Tomás O'Brien"]
    assert names_in("Does Mariam Haddad know James' sister Ada?") == [
        "Mariam Haddad", "James", "Ada"]
    assert names_in("When do you open?") == []
