"""SVG snapshots of every screen at 80x24 on fixed fictional data.

Private texts appear only where the reveal key (v) was pressed, and only fictional ones.
Update after an intended change with ``pytest tests/tui --snapshot-update`` and look at the
new SVGs before committing them.
"""

from __future__ import annotations

from tests.tui.conftest import RUN_ID, SIZE


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
        pilot.app.open_audit(RUN_ID)

    assert snap_compare(app_factory(seeded_ctx), run_before=open_run, terminal_size=SIZE)
