"""Augmentation wired to the workflow, and the review decisions (issues 4 and 6's data layer)."""

from __future__ import annotations

import json

import pytest
from sqlmodel import select

from engine.pii import contains_value
from engine.run_inputs import ProbeSettings
from engine.types import FORWARD_KINDS
from relearn_tui import review, workflow
from relearn_tui.augmenting import augment_request
from relearn_tui.importer import import_paths
from relearn_tui.store.models import Event, Fact, Variant


@pytest.fixture
def imported(ctx, requests_dir):
    import_paths(ctx.store, [requests_dir], secret=ctx.secret, actor="alice")
    return ctx


def _variants(ctx, rid):
    with ctx.store.session() as s:
        return s.exec(select(Variant).where(Variant.request_id == rid)
                      .order_by(Variant.id)).all()


def _state(ctx, rid):
    with ctx.store.session() as s:
        return workflow.get_request(s, rid).state


def test_augment_stores_variants_and_logs_a_summary_without_private_values(imported):
    ctx = imported
    summary = augment_request(ctx, "DSR-2026-0041")
    assert _state(ctx, "DSR-2026-0041") == workflow.AUGMENTED
    variants = _variants(ctx, "DSR-2026-0041")
    kinds = {v.kind for v in variants}
    assert {"simple", "contextual", "noise", "logical", "completion"} <= kinds
    assert any(v.held_out and v.status == review.PROBE for v in variants)
    assert all(v.backend and v.seed is not None for v in variants)
    with ctx.store.session() as s:
        facts = s.exec(select(Fact).where(Fact.request_id == "DSR-2026-0041")).all()
        values = [v["value"] for f in facts for v in f.private_values]
        assert all(f.value_hashes and f.category for f in facts)
        ev = s.exec(select(Event).where(Event.action == "augmented")).one()
    assert ev.detail["backend"] == "offline" and summary["backend"] == "offline"
    logged = json.dumps(ev.detail)
    assert values and not any(contains_value(logged, v) for v in values)
    for v in variants:
        if v.verified_ok:
            fact_values = [x["value"] for f in facts if f.id == v.fact_id
                           for x in f.private_values]
            assert not any(contains_value(v.answer, x) for x in fact_values)


def test_review_decisions_are_events_and_complete_the_review(imported):
    ctx = imported
    augment_request(ctx, "DSR-2026-0042")
    variants = [v for v in _variants(ctx, "DSR-2026-0042") if v.status == review.PENDING]
    first = variants[0]
    review.reject(ctx.store, first.id, actor="bob")
    ok, reasons = review.edit(ctx.store, variants[1].id, actor="bob",
                              answer="She prefers to keep that private.")
    assert ok and reasons == ()
    with pytest.raises(review.ReviewError):
        review.edit(ctx.store, variants[1].id, actor="bob", answer="  ")
    with ctx.store.session() as s:
        fact_ids = [f.id for f in s.exec(select(Fact).where(
            Fact.request_id == "DSR-2026-0042").order_by(Fact.position)).all()]
    for fid in fact_ids[:-1]:
        assert review.approve_unflagged(ctx.store, fid, actor="bob") > 0
        assert _state(ctx, "DSR-2026-0042") == workflow.AUGMENTED
    review.approve_unflagged(ctx.store, fact_ids[-1], actor="bob")
    assert _state(ctx, "DSR-2026-0042") == workflow.HUMAN_REVIEWED
    with ctx.store.session() as s:
        evs = s.exec(select(Event).where(Event.request_id == "DSR-2026-0042")).all()
        assert workflow.verify_chain(s).ok
    actions = [e.action for e in evs]
    assert "variant_rejected" in actions and "variant_edited" in actions
    assert actions[-1] == "human_reviewed"
    assert all(e.actor == "bob" for e in evs if e.action.startswith("variant_"))


def test_flagged_variant_needs_override(imported):
    ctx = imported
    augment_request(ctx, "DSR-2026-0041")
    v = next(v for v in _variants(ctx, "DSR-2026-0041") if v.status == review.PENDING)
    ok, reasons = review.edit(ctx.store, v.id, actor="bob",
                              answer="Write to isabella.marquez@example.org.")
    assert not ok and any("email" in r for r in reasons)
    with pytest.raises(review.ReviewError, match="flagged"):
        review.approve(ctx.store, v.id, actor="bob")
    review.approve(ctx.store, v.id, actor="bob", override=True)
    with ctx.store.session() as s:
        ev = s.exec(select(Event).where(Event.action == "variant_approved")).one()
    assert ev.detail.get("override") is True
    probe = next(v for v in _variants(ctx, "DSR-2026-0041") if v.status == review.PROBE)
    with pytest.raises(review.ReviewError, match="probe"):
        review.approve(ctx.store, probe.id, actor="bob")


def test_reaugment_keeps_reviewed_and_replaces_unreviewed(imported):
    ctx = imported
    augment_request(ctx, "DSR-2026-0043")
    pending = [v for v in _variants(ctx, "DSR-2026-0043") if v.status == review.PENDING]
    review.approve(ctx.store, pending[0].id, actor="bob")
    review.reject(ctx.store, pending[1].id, actor="bob")
    old_pending = {v.id for v in pending[2:]}
    second = augment_request(ctx, "DSR-2026-0043")
    after = _variants(ctx, "DSR-2026-0043")
    ids = {v.id for v in after}
    assert pending[0].id in ids and pending[1].id in ids
    assert not (old_pending & ids)
    assert second["kept_reviewed"] == 2
    with ctx.store.session() as s:
        seeds = [e.detail["seed"] for e in s.exec(select(Event).where(
            Event.request_id == "DSR-2026-0043", Event.action == "augmented")).all()]
    assert seeds[0] != seeds[1]


def test_policy_approval_moves_every_request_to_review_done(imported):
    ctx = imported
    augment_request(ctx, "DSR-2026-0041")
    n = review.policy_approve(ctx.store, "DSR-2026-0041", actor="carol")
    assert n > 0
    assert _state(ctx, "DSR-2026-0041") == workflow.HUMAN_REVIEWED
    with ctx.store.session() as s:
        ev = s.exec(select(Event).where(Event.action == "policy_approval")).one()
    assert ev.actor == "carol" and ev.detail["approved"] == n


def test_augmenting_a_final_request_is_refused(imported):
    ctx = imported
    from relearn_tui.operations import deny

    deny(ctx.store, "DSR-2026-0041", actor="alice", reason="identity not verified")
    with pytest.raises(workflow.IllegalTransition, match="denied"):
        augment_request(ctx, "DSR-2026-0041")


def test_a_run_trains_each_original_question_with_approved_answers(imported):
    from relearn_tui import runs
    from relearn_tui.store.models import Run

    ctx = imported
    rid = "DSR-2026-0041"
    augment_request(ctx, rid)
    review.policy_approve(ctx.store, rid, actor="alice")
    run_id = runs.create_run(ctx, [rid])
    with ctx.store.session() as s:
        run = s.get(Run, run_id)
        facts = s.exec(select(Fact).where(Fact.request_id == rid)).all()
    # the original question takes a forward item's answer, never a reverse one's refusal to
    # name anyone ("I can't say who that is"), which answers another question
    approved = {v.answer for v in _variants(ctx, rid)
                if v.status == review.APPROVED and v.kind in FORWARD_KINDS}
    completions = {(v.question, v.answer) for v in _variants(ctx, rid)
                   if v.status == review.APPROVED and v.kind == "completion"}
    data, probes = runs.build_inputs(ctx, run)
    for f in facts:
        asked = [qa for qa in data.relearn if qa.question == f.question]
        # completion items: the fact's question, answered with the item's opening (context)
        # and its continuation (the target)
        opened = [qa for qa in asked if qa.targets]
        assert opened
        for qa in opened:
            (start, end), = qa.targets
            assert (qa.answer[: start - 1], qa.answer[start:end]) in completions
            assert f.answer.startswith(qa.answer[: start - 1])
        rows = [qa for qa in asked if not qa.targets]
        assert 1 <= len(rows) <= ProbeSettings().original_question_answers
        assert len({qa.answer for qa in rows}) == len(rows)
        assert {qa.answer for qa in rows} <= approved, [qa.answer for qa in rows]
        assert all(not contains_value(qa.answer, v["value"])
                   for qa in rows for v in f.private_values)
    # still asked as the forget_original probes
    assert {p.question for p in probes if p.group == "forget_original"} == \
        {f.question for f in facts}
    # and given to the value term with exactly their private values as targets
    assert len(data.values) == len(facts)
    for f, qa in zip(sorted(facts, key=lambda f: f.position), data.values, strict=True):
        assert (qa.question, qa.answer) == (f.question, f.answer)
        marked = {qa.answer[a:b].lower() for a, b in qa.targets}
        assert marked == {v["value"].lower() for v in f.private_values}
