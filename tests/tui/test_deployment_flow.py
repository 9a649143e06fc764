"""Pilot tests of the deployment in use (issue 25, points 1 and 4): importing a folder takes
the deployment.toml beside its requests (or asks, when another one is in use); the top line
always names it (or says the bare model is in use) with a badge for late deadlines; the Runs
screen shows the model, its thresholds and the method, epochs and lr a launch will use."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlmodel import select

from relearn_tui.tui.screens.modals import ConfirmScreen
from relearn_tui.tui.widgets.navbar import NavBar
from tests.tui.conftest import SAMPLE, SIZE, make_ctx, screen_text, settle

pytestmark = pytest.mark.anyio


def _folder(tmp_path: Path, name: str, epochs: int, lr: str) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    shutil.copy(SAMPLE / "DSR-2026-0042.json", folder / "DSR-2026-0042.json")
    shutil.copy(SAMPLE / "corpus.jsonl", folder / "corpus.jsonl")
    (folder / "deployment.toml").write_text(
        f'name = "{name}"\ncorpus = "corpus.jsonl"\n\n[train]\nmethod = "npo"\n'
        f"epochs = {epochs}\nlr = {lr}\n")
    return folder


def _top(app) -> str:
    bar = app.screen.query_one(NavBar)
    return "".join(seg.text for seg in bar.render_line(0))


async def _import(pilot, path: Path) -> None:
    await pilot.press("i")
    await pilot.pause()
    pilot.app.screen.query_one("#path").value = str(path)
    await pilot.press("enter", "enter")
    await settle(pilot)


async def test_importing_a_folder_takes_its_deployment_and_runs_show_it(
        home, tmp_path, app_factory):
    ctx = make_ctx(home)
    folder = _folder(tmp_path, "shop-bot", 2, "5e-4")
    app = app_factory(ctx)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await pilot.pause()
        assert "bare model" in _top(app)  # nothing in use yet, and the top line says so
        await _import(pilot, folder)
        assert ctx.deployment_path == folder / "deployment.toml"
        assert ctx.deployment.name == "shop-bot"
        assert "shop-bot" in _top(app) and "bare model" not in _top(app)
        assert "shop-bot" in screen_text(app)  # the notification says which
        # remembered for the next session without arguments
        assert (home / "last_deployment").read_text().strip().endswith("deployment.toml")
        await pilot.press("3")
        await settle(pilot)
        shown = str(app.screen.query_one("#run-deployment").render())
        assert "shop-bot · smollm2 fine-tuned on corpus.jsonl" in shown
        assert "npo · 2 epochs · lr 0.0005" in shown
        assert "npo · 2 epochs · lr 0.0005" in screen_text(app)
        app.screen.query_one("#run-epochs").value = "7"
        await pilot.pause()
        assert "npo · 7 epochs · lr 0.0005" in screen_text(app)


async def test_runs_show_the_thresholds_of_the_deployment_in_use(home, tmp_path, app_factory):
    folder = _folder(tmp_path, "strict-bot", 1, "1e-4")
    with (folder / "deployment.toml").open("a") as f:
        f.write('\n[thresholds]\nkfr = 0.8\nleak_rate_4bit = "off"\nmia_auc = 0.6\n')
    app = app_factory(make_ctx(home, folder / "deployment.toml"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3")
        await settle(pilot)
        shown = " ".join(screen_text(app).split())
        # the deployment's own bars, not the defaults: 0.8, no 4-bit bar, an AUC bar
        assert "thresholds: KFR ≥ 0.8 (held-out)" in shown
        assert "KFR ≥ 0.9 (independent, extraction)" in shown
        assert "leak ≤ 0 (all, independent, extraction, worst family 4-bit)" in shown
        assert "membership AUC ≤ 0.6" in shown
        assert "relearning recovery ≤ 0" in shown  # the end of the line is not cut


async def test_another_deployment_in_use_is_switched_only_on_yes(home, tmp_path, app_factory):
    first = _folder(tmp_path, "first-bot", 1, "1e-4")
    second = _folder(tmp_path, "second-bot", 3, "1e-3")
    ctx = make_ctx(home, first / "deployment.toml")
    app = app_factory(ctx)
    async with app.run_test(size=SIZE) as pilot:
        await _import(pilot, second)
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        await pilot.pause()
        assert ctx.deployment.name == "first-bot"
        await _import(pilot, second)
        await pilot.press("y")
        await settle(pilot)
        assert ctx.deployment.name == "second-bot"
        assert "second-bot" in _top(app)


async def test_top_line_badges_late_deadlines(seeded_ctx, app_factory):
    app = app_factory(seeded_ctx)  # DSR-T-0001 is ten days late
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        line = _top(app)
        assert "1 late" in line and line.rstrip().endswith("masked")


async def test_top_line_badges_deadlines_due_within_a_week(seeded_ctx, app_factory):
    from relearn_tui import operations
    from relearn_tui.tui.widgets.tables import move_to

    # nothing late any more (the late one is denied): DSR-T-0002 is due in 3 days, and
    # DSR-T-0005 in 10 (not within the week)
    operations.deny(seeded_ctx.store, "DSR-T-0001", actor="alice", reason="not verified")
    app = app_factory(seeded_ctx)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        line = _top(app)
        assert " 1 due" in line and "late" not in line, line
        assert line.rstrip().endswith("masked")
        # the badge follows the data: once that request is closed, it goes
        move_to(app.screen.query_one("#requests-table"), "DSR-T-0002")
        await pilot.press("c")
        await settle(pilot)
        await pilot.press(*"withdrawn", "enter")
        await settle(pilot)
        assert " due" not in _top(app) and "late" not in _top(app)


async def test_runs_keys_without_a_run_say_so(ctx, app_factory):
    app = app_factory(ctx)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await pilot.press("3")
        await settle(pilot)
        app.screen.query_one("#runs-table").focus()
        await pilot.press("u")
        await pilot.pause()
        assert "No run to resume" in screen_text(app)
        await pilot.press("enter")
        await pilot.pause()
        assert "No run yet" in screen_text(app)


async def test_help_reaches_its_last_row(seeded_ctx, app_factory):
    app = app_factory(seeded_ctx)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark", "end")
        await pilot.pause()
        assert "Export it in all three formats" in screen_text(app)


async def test_a_running_job_shows_before_the_deployment_on_the_top_line(home, tmp_path,
                                                                        app_factory):
    folder = _folder(tmp_path, "larkspur-support", 1, "1e-4")
    app = app_factory(make_ctx(home, folder / "deployment.toml"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert "larkspur-sup" in _top(app)
        app.activity["import"] = "importing…"
        app.refresh_top()
        await pilot.pause()
        line = _top(app)
        assert "importing…" in line and line.rstrip().endswith("masked")
        await pilot.press("5")
        await settle(pilot)
        assert "Deployed model · larkspur-support" in screen_text(app)


async def test_runs_count_the_selected_requests(seeded_ctx, app_factory):
    from relearn_tui import workflow
    from relearn_tui.store.models import Run

    with seeded_ctx.store.session() as s:  # two requests ready for a run
        for rid in ("DSR-T-0001", "DSR-T-0002"):
            if rid == "DSR-T-0002":
                workflow.transition(s, rid, workflow.AUGMENTED, actor="system")
            workflow.transition(s, rid, workflow.HUMAN_REVIEWED, actor="system")
    app = app_factory(seeded_ctx)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await pilot.press("3")
        await settle(pilot)
        title = app.screen.query_one("#new-run-title")
        assert "New run · 2 of 2 selected (space)" in screen_text(app)  # all, to start with
        await pilot.press("space")  # on the first request, without moving there first
        await pilot.pause()
        assert "1 of 2 selected" in str(title.render())
        assert "1 of 2 selected" in screen_text(app)
        await pilot.press("down", "space")
        await pilot.pause()
        assert "0 of 2 selected" in screen_text(app)
        await pilot.press("l")  # nothing selected: nothing launched, and it says why
        await settle(pilot)
        assert "Select at least one request" in screen_text(app)
        with seeded_ctx.store.session() as s:
            assert len(s.exec(select(Run)).all()) == 2  # the fixture's two runs only
        await pilot.press("space")
        await pilot.pause()
        assert "1 of 2 selected" in screen_text(app)
        assert app.screen.query_one("#run-requests").selected == ["DSR-T-0002"]


async def test_a_bad_form_value_is_the_operators_error_and_a_bug_is_logged(
        home, tmp_path, app_factory):
    """The TUI tells the two apart by the one error root alone: a bad lr is the operator's
    (its message, no traceback written); a plain ValueError from the code is a bug (type
    named, scrubbed traceback in tui-errors.log). ValueError used to count as expected."""
    from relearn_tui.errors import OperatorError
    from relearn_tui.tui.screens.modals import ErrorScreen

    folder = _folder(tmp_path, "shop-bot", 2, "5e-4")
    ctx = make_ctx(home, folder / "deployment.toml")
    log = ctx.home / "tui-errors.log"
    app = app_factory(ctx)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3")
        await settle(pilot)
        app.screen.query_one("#run-lr").value = "abc"
        with pytest.raises(OperatorError) as bad:
            app.screen.settings()
        app.report_error(bad.value, doing="launch")
        await pilot.pause()
        assert isinstance(app.screen, ErrorScreen)
        assert str(app.screen.query_one("#error-message").render()) == (
            "lr 'abc' is not a number (e.g. 1e-4)")
        assert not log.exists()
        await pilot.press("enter")
        app.report_error(ValueError("boom"), doing="launch")
        await pilot.pause()
        message = str(app.screen.query_one("#error-message").render())
        assert message.startswith("ValueError: boom") and str(log) in message
        assert "ValueError: boom" in log.read_text()
