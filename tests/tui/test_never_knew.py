"""A run on a model that never knew the facts stops before training (issue 25): its
before-audit finds none of the request's private values in the model's answers, so the run
ends with a message naming the deployment and the model, and the request stays
human_reviewed for a run on the right deployment. Checked through the pipeline (what
--headless runs) and through the TUI; the tiny random model knows nothing."""

from __future__ import annotations

import shutil

import pytest
from sqlmodel import select

from relearn_tui import pipeline, runs
from relearn_tui.store.models import Event, Run
from relearn_tui.tui.screens.modals import ErrorScreen
from tests.tui.conftest import FAST_DEPLOYMENT, SAMPLE, SIZE, make_ctx, settle
from tests.tui.test_run_flow import RID, _reviewed_request, _state, request_file, wait_until

pytestmark = pytest.mark.anyio
__all__ = ["request_file"]  # the fixture, imported for these tests


@pytest.fixture
def unknowing_ctx(home, tmp_path, tiny_model_dir):
    folder = tmp_path / "unknowing"
    folder.mkdir()
    shutil.copy(SAMPLE / "corpus.jsonl", folder / "corpus.jsonl")
    (folder / "deployment.toml").write_text(
        f'name = "wrong-bot"\ncorpus = "corpus.jsonl"\nmodel = "{tiny_model_dir}"\n'
        f'base_model = "{tiny_model_dir}"\n' + FAST_DEPLOYMENT)  # the check is on by default
    return make_ctx(home, folder / "deployment.toml")


def _stopped(ctx, message: str, tiny_model_dir) -> None:
    for words in ("reproduces none of the private values", RID, "'wrong-bot'",
                  tiny_model_dir.name):
        assert words in message, words
    with ctx.store.session() as s:
        (run,) = s.exec(select(Run)).all()
        assert run.state == runs.FAILED and "never knew" in (run.error or "")
        assert run.adapter_sha256 is None  # nothing was trained
        ev = s.exec(select(Event).where(Event.request_id == RID)
                    .order_by(Event.id.desc())).first()
        assert ev.action == "run_stopped"
    assert _state(ctx) == "human_reviewed"  # ready for a run on the right deployment


async def test_pipeline_stops_a_run_on_a_model_that_never_knew(unknowing_ctx, request_file,
                                                                 tiny_model_dir):
    ctx = unknowing_ctx
    _reviewed_request(ctx, request_file)
    choice = pipeline.run_to_execute(ctx, [RID])
    with pytest.raises(runs.ModelNeverKnewError) as caught:
        pipeline.execute(ctx, choice.run_id)
    _stopped(ctx, str(caught.value), tiny_model_dir)


async def test_tui_says_why_the_run_stopped(unknowing_ctx, app_factory, request_file,
                                            tiny_model_dir):
    ctx = unknowing_ctx
    _reviewed_request(ctx, request_file)
    app = app_factory(ctx)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3", "l")
        await wait_until(pilot, lambda: app.live is not None and app.live.outcome is not None)
        await settle(pilot)
        assert app.live.outcome == "failed"
        assert isinstance(app.screen, ErrorScreen)
        message = str(app.screen.query_one("#error-message").render())
        assert "Traceback" not in message
        _stopped(ctx, " ".join(message.split()), tiny_model_dir)
