"""The reviewer's corrections of a fact's private values (issue #21, point 2): a fact with no
value cannot be reviewed until one is marked or a reason recorded; a marked value is protected
(variants holding it flagged, approvals revoked) and audited; no value reaches the log."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlmodel import select

from relearn_tui import pipeline, review, values, workflow
from relearn_tui.augmenting import augment_request
from relearn_tui.cli import main
from relearn_tui.importer import import_paths
from relearn_tui.review import ReviewError
from relearn_tui.store.models import Event, Fact, Variant
from relearn_tui.workflow import WorkflowError

RID = "DSR-V-1"
NAME = "Quinn Harlow"
SHED = "blue canoe"  # no detector finds it: the reviewer has to mark it
FACTS = [
    {"question": f"What does {NAME} keep in the garden shed?",
     "answer": f"{NAME} keeps a {SHED} in the garden shed."},
    {"question": f"What is {NAME}'s email address?",
     "answer": f"{NAME}'s email address is quinn.harlow@example.org."},
]


@pytest.fixture
def augmented(ctx, tmp_path: Path):
    path = tmp_path / "r.json"
    path.write_text(json.dumps({"request_id": RID, "subject": {"name": NAME},
                                "received_at": "2026-11-30T09:00:00Z", "facts": FACTS}))
    import_paths(ctx.store, [path], secret=ctx.secret, actor="alice")
    augment_request(ctx, RID)
    return ctx


def _state(ctx) -> str:
    with ctx.store.read() as s:
        return workflow.get_request(s, RID).state


def _events(ctx) -> list[Event]:
    with ctx.store.read() as s:
        return s.exec(select(Event).where(Event.request_id == RID).order_by(Event.id)).all()


def test_a_fact_without_a_value_blocks_review_until_a_reason_is_recorded(augmented):
    ctx = augmented
    pipeline.approve_by_policy(ctx, [RID])
    assert _state(ctx) == workflow.AUGMENTED  # every fact approved, fact 1 has no value
    wait = pipeline.waiting_for_review(ctx, [RID])
    assert wait.request_ids == (RID,) and wait.without_values == {RID: [1]}
    with pytest.raises(WorkflowError, match="names the data subject"):
        values.record_no_value(ctx.store, RID, 1, actor="bob", reason=f"{NAME} said so")
    with pytest.raises(ReviewError, match="holds 1 private value"):
        values.record_no_value(ctx.store, RID, 2, actor="bob", reason="not private")
    values.record_no_value(ctx.store, RID, 1, actor="bob",
                           reason="what is kept in a shed identifies no one")
    assert _state(ctx) == workflow.HUMAN_REVIEWED
    assert pipeline.waiting_for_review(ctx, [RID]).without_values == {}


def test_a_marked_value_is_protected_audited_and_never_logged(augmented):
    ctx = augmented
    pipeline.approve_by_policy(ctx, [RID])
    with ctx.store.session() as s:  # a training variant that repeats the undetected value
        fact = s.exec(select(Fact).where(Fact.request_id == RID, Fact.position == 0)).one()
        leaky = s.exec(select(Variant).where(Variant.fact_id == fact.id,
                                             Variant.status == review.APPROVED)).first()
        leaky.answer = f"It is a {SHED}, but I'd rather not say more."
        s.add(leaky)
    result = values.mark_value(ctx.store, ctx.secret, RID, 1, SHED, "other", actor="bob")
    assert result.flagged >= 1 and result.revoked >= 1
    with ctx.store.read() as s:
        v = s.get(Variant, leaky.id)
        assert v.status == review.PENDING and not v.verified_ok
        assert any("other" in r for r in v.verification_reasons)
        fact = s.get(Fact, fact.id)
        assert {"category": "other", "value": SHED, "marked": True} in fact.private_values
        assert len(fact.value_hashes) == len(fact.private_values)
        # the audit looks for it: the engine's view of the fact carries it
        assert SHED in [pv.value for pv in review.engine_fact(fact, NAME).private_values]
    marked = [e for e in _events(ctx) if e.action == "value_marked"]
    assert marked and marked[0].detail["fact"] == 1
    assert all(SHED not in json.dumps(e.detail) for e in _events(ctx))
    # fact 1 now has a value and still approved variants that do not hold it: reviewed
    assert _state(ctx) == workflow.HUMAN_REVIEWED


def test_marking_reopens_a_completed_review(augmented):
    ctx = augmented
    pipeline.approve_by_policy(ctx, [RID])
    values.record_no_value(ctx.store, RID, 1, actor="bob", reason="nothing identifying")
    assert _state(ctx) == workflow.HUMAN_REVIEWED
    with ctx.store.session() as s:
        fact = s.exec(select(Fact).where(Fact.request_id == RID, Fact.position == 0)).one()
        for v in s.exec(select(Variant).where(Variant.fact_id == fact.id,
                                              Variant.status == review.APPROVED)).all():
            v.answer = f"A {SHED}."
            s.add(v)
    values.mark_value(ctx.store, ctx.secret, RID, 1, SHED, "other", actor="bob")
    assert _state(ctx) == workflow.AUGMENTED  # fact 1 has no approved variant left
    assert any(e.action == "review_reopened" and e.to_state == workflow.AUGMENTED
               for e in _events(ctx))
    with ctx.store.read() as s:
        assert workflow.verify_chain(s).ok


@pytest.mark.parametrize(("args", "message"), [
    ((1, "a red kayak", "other"), "does not contain the value"),
    ((1, SHED, "favourite thing"), "is not one of"),
    ((3, SHED, "other"), "no fact 3 \\(it has 2\\)"),
    ((2, "quinn.harlow@example.org", "email address"), "already holds that value"),
    ((1, "", "other"), "the value is empty"),
])
def test_mark_value_errors_name_the_field_not_the_value(augmented, args, message):
    with pytest.raises(ReviewError, match=message) as err:
        values.mark_value(augmented.store, augmented.secret, RID, *args, actor="bob")
    assert "quinn.harlow@" not in str(err.value) and "red kayak" not in str(err.value)


def test_unmark_needs_a_clean_reason_and_blocks_review_again(augmented):
    ctx = augmented
    with pytest.raises(WorkflowError, match="the reason"):
        values.unmark_value(ctx.store, RID, 2, 1, actor="bob", reason="quinn.harlow@example.org")
    with pytest.raises(ReviewError, match="has 1 value\\(s\\), not a value 2"):
        values.unmark_value(ctx.store, RID, 2, 2, actor="bob", reason="wrong")
    assert values.unmark_value(ctx.store, RID, 2, 1, actor="bob",
                               reason="a shared team mailbox") == "email address"
    with ctx.store.read() as s:
        assert review.facts_without_values(s, RID) == [1, 2]


def test_cli_fact_commands(augmented, capsys: pytest.CaptureFixture[str]):
    assert main(["fact", "show", RID]) == 0
    out = capsys.readouterr().out
    assert "fact 1: no value: mark one or record why" in out
    assert "email address: ****" in out and "quinn.harlow@" not in out
    assert main(["fact", "show", RID, "--reveal"]) == 0
    assert "quinn.harlow@example.org" in capsys.readouterr().out
    assert main(["fact", "mark-value", RID, "1", "--category", "other", "--value", SHED]) == 0
    assert "fact 1: other marked" in capsys.readouterr().out
    assert main(["fact", "no-value", RID, "1", "--reason", "x"]) == 2
    assert "holds 1 private value" in capsys.readouterr().err
    assert main(["fact", "mark-value", RID, "9", "--category", "other", "--value", "y"]) == 2
