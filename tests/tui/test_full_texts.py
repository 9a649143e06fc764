"""A text a decision is made on is shown whole (issue 25, point 3): a fact, a variant and a
failed probe's answer longer than the pane, with a private value at its very end, are shown
to their last character in the Review detail pane and in the full-text dialog (o) once
revealed, and masked the value shows nowhere. Each check reads what the widget renders (and
what the terminal shows after scrolling), so a text cut anywhere before its tail fails it."""

from __future__ import annotations

import pytest
from sqlmodel import select
from textual.geometry import Region

from relearn_tui.store.models import AuditResult, Fact, Variant
from relearn_tui.tui.masking import MASK, PrivateText
from relearn_tui.tui.screens.modals import FullTextScreen
from relearn_tui.tui.screens.review import ReviewScreen
from tests.tui.conftest import SIZE, screen_text, settle

pytestmark = pytest.mark.anyio

# Longer than the review pane (4 lines of about 76 cells) and than any table cell; the
# private value comes last, where a cut text loses it first.
FILLER = ("I looked this up for you in the records the support team keeps, checked the "
          "spelling of the name twice against the original ticket, and went through the "
          "notes of the last three calls before answering, ")
FACT_VALUE = "+1-555-010-4477"
FACT_ANSWER = FILLER + f"so Tobias Marchetti's phone number is {FACT_VALUE}"
VARIANT_VALUE = "nora.q@example.test"
VARIANT_ANSWER = FILLER + f"and her email is {VARIANT_VALUE}"
PROBE_VALUE = "LO-99120"
PROBE_ANSWER = FILLER + f"and Mirela's account is {PROBE_VALUE}"


def _lengthen(ctx) -> None:
    """Give the fixtures' fact, flagged variant and failed probe the long answers."""
    with ctx.store.session() as s:
        fact = s.exec(select(Fact).where(Fact.request_id == "DSR-T-0002")).one()
        fact.answer = FACT_ANSWER
        s.add(fact)
        noise = s.exec(select(Variant).where(Variant.request_id == "DSR-T-0001",
                                             Variant.kind == "noise")).one()
        noise.answer = VARIANT_ANSWER
        s.add(noise)
        audit = s.exec(select(AuditResult).where(AuditResult.request_id == "DSR-T-0005",
                                                 AuditResult.phase == "after")).one()
        records = [dict(r) for r in audit.probe_records]
        records[0]["answer"] = PROBE_ANSWER
        audit.probe_records = records
        s.add(audit)
    assert len(FACT_ANSWER) > 200 and len(VARIANT_ANSWER) > 200 and len(PROBE_ANSWER) > 200


def _flat(text: str) -> str:
    """Wrapped lines joined back into one line of single spaces."""
    return " ".join(text.split())


def _rendered(widget: PrivateText) -> str:
    """Every line the widget renders at its width, also those scrolled out of view."""
    width, height = widget.size
    lines = widget.render_lines(Region(0, 0, width, height))
    return _flat("\n".join(strip.text for strip in lines))


def _on_screen(app, widget) -> str:
    """What the terminal shows inside the widget's region (no border, no scrollbar)."""
    region = widget.scrollable_content_region if hasattr(
        widget, "scrollable_content_region") else widget.content_region
    rows = screen_text(app).splitlines()
    return _flat("\n".join(row[region.x:region.right]
                           for row in rows[region.y:region.bottom]))


async def _open_fact(pilot) -> None:
    from relearn_tui.tui.widgets.tables import move_to

    move_to(pilot.app.screen.query_one("#requests-table"), "DSR-T-0002")
    await pilot.press("enter")
    await settle(pilot)
    await pilot.press("o")
    await settle(pilot)
    assert isinstance(pilot.app.screen, FullTextScreen)


async def test_a_long_fact_is_whole_in_its_full_text_and_masked_until_revealed(
        seeded_ctx, app_factory):
    _lengthen(seeded_ctx)
    app = app_factory(seeded_ctx)
    async with app.run_test(size=SIZE) as pilot:
        await _open_fact(pilot)
        assert FACT_VALUE not in screen_text(app) and MASK in screen_text(app)
        await pilot.press("v")  # the dialog's own reveal key
        await settle(pilot)
        body = app.screen.query_one("#full-text", PrivateText)
        assert FACT_ANSWER in _rendered(body)
        # and the terminal shows it to the end, without scrolling (it fits the dialog)
        assert FACT_ANSWER in _on_screen(app, body)


async def test_a_long_variant_is_whole_in_the_review_pane_and_its_full_text(
        seeded_ctx, app_factory):
    _lengthen(seeded_ctx)
    app = app_factory(seeded_ctx)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2", "n")  # the flagged (noise) variant, the long one
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ReviewScreen) and screen.current().kind == "noise"
        assert VARIANT_VALUE not in screen_text(app)
        await pilot.press("v")
        await settle(pilot)
        pane = screen.query_one("#variant-detail", PrivateText)
        scroll = screen.query_one("#variant-scroll")
        assert VARIANT_ANSWER in _rendered(pane)
        assert scroll.max_scroll_y > 0, "the answer is longer than the pane"
        # the pane scrolls down to the answer's last words
        scroll.scroll_end(animate=False)
        await settle(pilot)
        assert _flat(VARIANT_ANSWER)[-40:] in _on_screen(app, scroll)
        await pilot.press("o")
        await settle(pilot)
        assert isinstance(app.screen, FullTextScreen)
        body = app.screen.query_one("#full-text", PrivateText)
        assert VARIANT_ANSWER in _rendered(body)
        assert VARIANT_ANSWER in _on_screen(app, body)
        await pilot.press("v")  # masked again, in the dialog: the value is gone
        await settle(pilot)
        assert VARIANT_VALUE not in screen_text(app) and MASK in _on_screen(app, body)


async def test_a_long_failed_probe_answer_is_whole_in_its_full_text(seeded_ctx, app_factory):
    from relearn_tui.tui.widgets.tables import move_to

    _lengthen(seeded_ctx)
    app = app_factory(seeded_ctx)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("4")
        await settle(pilot)
        move_to(app.screen.query_one("#audit-table"), "DSR-T-0005")
        await settle(pilot)
        app.screen.query_one("#probes-table").focus()
        await pilot.press("o")
        await settle(pilot)
        assert isinstance(app.screen, FullTextScreen)
        body = app.screen.query_one("#full-text", PrivateText)
        assert PROBE_VALUE not in screen_text(app) and MASK in _on_screen(app, body)
        await pilot.press("v")
        await settle(pilot)
        assert PROBE_ANSWER in _rendered(body)
        assert PROBE_ANSWER in _on_screen(app, body)


def _full_gate(ctx) -> list[str]:
    """The seeded run with every default threshold bar, and DSR-T-0005 failed for more reasons
    than fit the few lines a note has; returns those reasons."""
    from engine.audit import Thresholds
    from relearn_tui.store.models import Run
    from tests.tui.conftest import RUN_ID

    reasons = ["leak rate 0.031 > 0.000", "KFR (extraction) 0.889 < 0.900",
               "leak rate (extraction) 0.222 > 0.000",
               "4-bit leak rate (worst family) 0.074 > 0.000",
               "relearning-attack recovery above control 1.000 > 0.000"]
    with ctx.store.session() as s:
        run = s.get(Run, RUN_ID)
        run.config = {**run.config, "thresholds": Thresholds().to_dict()}
        s.add(run)
        audit = s.exec(select(AuditResult).where(AuditResult.request_id == "DSR-T-0005",
                                                 AuditResult.phase == "after")).one()
        audit.reasons = reasons
        s.add(audit)
    return reasons


async def test_the_audit_shows_every_threshold_bar_at_80x24(seeded_ctx, app_factory):
    """The default gate's bars take three lines at 80 columns; the last ones (4-bit, the
    relearning attack) were cut off under the run's line."""
    _full_gate(seeded_ctx)
    app = app_factory(seeded_ctx)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("4")
        await settle(pilot)
        shown_text = _flat(screen_text(app))
        assert "worst family 4-bit" in shown_text
        assert "relearning recovery ≤ 0" in shown_text


async def test_a_requests_metrics_show_every_reason_it_failed(seeded_ctx, app_factory):
    from relearn_tui.tui.widgets.tables import move_to

    reasons = _full_gate(seeded_ctx)
    app = app_factory(seeded_ctx)
    async with app.run_test(size=SIZE) as pilot:
        move_to(app.screen.query_one("#requests-table"), "DSR-T-0005")
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("m")
        await settle(pilot)
        shown_text = _flat(screen_text(app))
        for reason in reasons:
            assert reason in shown_text, reason


async def test_the_figures_dialog_keeps_its_columns_at_80x24(seeded_ctx, app_factory):
    """At 80 columns the dialog wrapped the LS bar's "before", the families' "leak <= 0.0" and
    the relearning attack's row onto lines of their own (tui_walkthrough, screens 43-44)."""
    from engine.audit.families import FAMILIES
    from relearn_tui.tui.screens.audit import FIGURES_WIDTH

    _full_gate(seeded_ctx)
    fams = {f: {"n": 27, "kfr": 0.889, "leak_rate": 0.222, "leak_rate_4bit": 0.074}
            for f in FAMILIES}
    with seeded_ctx.store.session() as s:
        for audit in s.exec(select(AuditResult).where(AuditResult.request_id == "DSR-T-0005")):
            audit.figures = {**audit.figures, "families": fams, "relearn_recovery": 1.0,
                             "leak_rate_4bit_worst": 0.074, "mia_auc": 0.958}
            s.add(audit)
    app = app_factory(seeded_ctx)
    async with app.run_test(size=SIZE) as pilot:
        from relearn_tui.tui.widgets.tables import move_to

        await pilot.press("4")
        await settle(pilot)
        move_to(app.screen.query_one("#audit-table"), "DSR-T-0005")
        await pilot.press("f")
        await settle(pilot)
        assert isinstance(app.screen, FullTextScreen)
        body = app.screen.query_one("#full-text", PrivateText)
        width, height = body.size
        rendered = [strip.text.strip() for strip in body.render_lines(Region(0, 0, width,
                                                                             height))]
        text = body.plain()
        assert "relearning attack: recovery above control" in text
        assert "KFR >= 0.9, leak <= 0.0" in text
        for line in text.splitlines():
            assert len(line) <= FIGURES_WIDTH, line
            assert line.strip() in rendered, line  # on one line of the dialog, not wrapped
