"""Every request and run state has its style, and no style names a state that does not exist:
the styles restate the workflow's and the runs' lists, so a test holds them together (the
interrupted run state had none)."""

from relearn_tui import runs, workflow
from relearn_tui.tui.formatting import STATE_STYLES


def test_state_styles_cover_the_request_and_run_states_exactly() -> None:
    assert set(STATE_STYLES) == set(workflow.STATES) | set(runs.RUN_STATES)
