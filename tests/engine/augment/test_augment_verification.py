"""Whole sample set, presidio on: no unflagged sanitised answer leaks a private value."""

from __future__ import annotations

import importlib.util
import re

import pytest
from augment_samples import SAMPLE, corpus_facts

from engine.augment import AugmentConfig, augment_facts, summarise, with_private_values
from engine.pii import contains_value


def _customers() -> dict[str, tuple[str, ...]]:
    """The generator's own record of every customer's private details: ground truth that does
    not depend on the PII finder the pipeline uses."""
    spec = importlib.util.spec_from_file_location("sample_generate", SAMPLE / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return {c[0]: c[1:] for c in module.CUSTOMERS}


def _secrets(details: tuple[str, ...], *, title: bool = True) -> list[str]:
    email, phone, address, dob, job, account, note = details
    street, _, city = address.partition(", ")
    job_title, employer = re.split(r" (?:at|from) ", job, maxsplit=1)
    job_title = re.sub(r"^(a|an) ", "", job_title)
    return [email, phone, address, street, city, dob, *([job_title] if title else []), employer,
            account, note]


@pytest.fixture(scope="module")
def augmented():
    facts = corpus_facts()
    variants = augment_facts(facts, AugmentConfig(use_presidio=True))
    return facts, variants


def test_no_unflagged_answer_holds_a_private_value_of_its_fact(augmented):
    facts, variants = augmented
    by_id = {f.fact_id: with_private_values(f) for f in facts}
    customers = _customers()
    checked = 0
    for v in variants:
        if not v.verification.ok:
            continue
        fact = by_id[v.fact_id]
        values = [pv.value for pv in fact.private_values] + _secrets(customers[fact.subject_name])
        for value in values:
            assert not contains_value(v.answer, value), (v.fact_id, v.kind)
        if v.kind == "completion":
            # a completion's opening is context, never a target: it may run up to the employer
            # ("... works as a chef at"), job title included, but holds no private value
            opening = [pv.value for pv in fact.private_values] + _secrets(
                customers[fact.subject_name], title=False)
            for value in opening:
                assert not contains_value(v.question, value), (v.fact_id, v.kind)
        checked += 1
    assert checked >= 0.95 * len(variants)


def test_every_fact_gets_its_variants_probes_and_completions(augmented):
    facts, variants = augmented
    summary = summarise(variants)
    assert summary["facts"] == len(facts) == 120
    assert summary["per_kind"] == {
        "simple": 360, "contextual": 360, "noise": 360, "logical": 360, "completion": 360
    }
    assert summary["held_out"] == 3 * 120
    # the templates pass verification; a flag here means a template leaks or trips presidio
    assert summary["flagged"] == 0, summary["flag_reasons"]


def test_the_pii_finder_sees_each_sample_fact_type(augmented):
    # guards the premise of the leak check above: the pipeline knows what to look for
    facts, _ = augmented
    missing = [f.fact_id for f in facts if not with_private_values(f).private_values]
    assert not missing
