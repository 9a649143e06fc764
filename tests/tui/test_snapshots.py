"""SVG snapshots of every screen at 80x24 on fixed fictional data.

Private texts appear only where the reveal key (v) was pressed, and only fictional ones.
Update after an intended change with ``pytest tests/tui --snapshot-update`` and look at the
new SVGs before committing them.
"""

from __future__ import annotations

from tests.tui.conftest import SIZE, settle


def test_requests(snap_compare, seeded_ctx, app_factory):
    assert snap_compare(app_factory(seeded_ctx), terminal_size=SIZE)


def test_request_detail_masked(snap_compare, seeded_ctx, app_factory):
    assert snap_compare(app_factory(seeded_ctx), press=["enter"], terminal_size=SIZE)


def test_request_detail_revealed(snap_compare, seeded_ctx, app_factory):
    assert snap_compare(app_factory(seeded_ctx), press=["enter", "v"], terminal_size=SIZE)


def test_request_timeline(snap_compare, seeded_ctx, app_factory):
    assert snap_compare(app_factory(seeded_ctx), press=["enter", "t"], terminal_size=SIZE)


def test_request_metrics(snap_compare, seeded_ctx, app_factory):
    # DSR-T-0005 (failed) is the third row
    assert snap_compare(app_factory(seeded_ctx), press=["down", "down", "enter", "m"],
                        terminal_size=SIZE)


def test_review_masked(snap_compare, seeded_ctx, app_factory):
    assert snap_compare(app_factory(seeded_ctx), press=["2"], terminal_size=SIZE)


def test_review_revealed_flagged(snap_compare, seeded_ctx, app_factory):
    # n twice: from the first open variant to the flagged one
    assert snap_compare(app_factory(seeded_ctx), press=["2", "v", "n"], terminal_size=SIZE)


def test_runs(snap_compare, seeded_ctx, app_factory):
    assert snap_compare(app_factory(seeded_ctx), press=["3"], terminal_size=SIZE)


def test_audit(snap_compare, seeded_ctx, app_factory):
    assert snap_compare(app_factory(seeded_ctx), press=["4", "down"], terminal_size=SIZE)


def test_audit_failed_probes_revealed(snap_compare, seeded_ctx, app_factory):
    assert snap_compare(app_factory(seeded_ctx), press=["4", "down", "v"], terminal_size=SIZE)


def test_audit_figures(snap_compare, seeded_ctx, app_factory):
    """f: every figure of the selected request, per family, with its bar and the reasons."""
    assert snap_compare(app_factory(seeded_ctx), press=["4", "down", "f"], terminal_size=SIZE)


def test_probe_console(snap_compare, seeded_ctx, app_factory):
    async def answered(pilot):
        await pilot.press("5")
        screen = pilot.app.screen
        screen.query_one("#probe-q").value = "What is Mirela Tsang's account number?"
        screen.show_answers("What is Mirela Tsang's account number?",
                            "Mirela Tsang holds account LO-99120.",
                            "I can't share details about customers' accounts.")

    assert snap_compare(app_factory(seeded_ctx), run_before=answered, terminal_size=SIZE)


def test_reports(snap_compare, seeded_ctx, app_factory):
    assert snap_compare(app_factory(seeded_ctx), press=["6"], terminal_size=SIZE)


def test_help(snap_compare, seeded_ctx, app_factory):
    assert snap_compare(app_factory(seeded_ctx), press=["question_mark"], terminal_size=SIZE)


def test_audit_of_named_run(snap_compare, seeded_ctx, app_factory):
    async def open_run(pilot):
        pilot.app.open_audit("RUN-20261129-101500-c3d4")  # not the default (completed) one

    assert snap_compare(app_factory(seeded_ctx), run_before=open_run, terminal_size=SIZE)


def test_runs_live_progress(snap_compare, seeded_ctx, app_factory):
    from engine.progress import Progress
    from relearn_tui.tui.live import LiveRun

    async def running(pilot):
        live = LiveRun(run_id="RUN-20261130-101500-e5f6")
        for step in range(1, 41):
            live.update(Progress("train", step, 120, epoch=1, epochs=3,
                                 losses={"forget": 3.0 - step * 0.05,
                                         "retain": 2.0 - step * 0.01,
                                         "kl": 0.02 * (step % 7)},
                                 tokens_per_s=812.0, eta_s=185.0))
        pilot.app.live = live
        await pilot.press("3")
        pilot.app.status_tick += 1

    assert snap_compare(app_factory(seeded_ctx), run_before=running, terminal_size=SIZE)


def test_error_dialog_of_a_bad_import(snap_compare, seeded_ctx, app_factory, tmp_path,
                                      monkeypatch):
    monkeypatch.chdir(tmp_path)  # a relative path keeps the message the same on every run
    (tmp_path / "bad.json").write_text('{"subject": {"name": "X"}, "facts": []}')

    async def bad_import(pilot):
        pilot.app.import_paths(["bad.json"])
        await settle(pilot)

    assert snap_compare(app_factory(seeded_ctx), run_before=bad_import, terminal_size=SIZE)


def test_new_request_form(snap_compare, seeded_ctx, app_factory):
    async def typed(pilot):
        await pilot.press("n")
        await pilot.pause()
        pilot.app.screen.query_one("#subject-name").value = "Lena Fictive"
        await pilot.press("ctrl+s")  # no fact yet: the form shows the importer's error

    assert snap_compare(app_factory(seeded_ctx), run_before=typed, terminal_size=SIZE)


def test_command_palette_lists_screen_actions(snap_compare, seeded_ctx, app_factory):
    assert snap_compare(app_factory(seeded_ctx), press=["ctrl+p", *"deny"],
                        terminal_size=SIZE)
