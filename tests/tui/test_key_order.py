"""Keys that the terminal delivers in one burst (fast typing, a loaded machine) reach the
screen and field that the keys before them opened or moved to (tui/key_order.py).

``pilot.press`` waits until the app is idle after every key, which hides the race; these
tests hand the whole burst to the driver at once, as a terminal does when the app is busy.
"""

from __future__ import annotations

import pytest
from sqlmodel import select
from textual import events

from relearn_tui.store.models import Fact, Request
from relearn_tui.tui.screens.new_request import NewRequestScreen
from tests.tui.conftest import SIZE, settle

pytestmark = pytest.mark.anyio


def _keys(text: str) -> list[str]:
    return ["space" if c == " " else c for c in text]


def _burst(app, keys: list[str]) -> None:
    """Queue every key before the app handles the first one."""
    for key in keys:
        event = events.Key(key, " " if key == "space" else key if len(key) == 1 else None)
        event.set_sender(app)
        app._driver.send_message(event)


async def _drain(pilot) -> None:
    # until the gate has handed on every key and the app has nothing left to do
    for _ in range(400):
        await settle(pilot)
        gate = getattr(pilot.app, "keys", None)  # absent without the gate
        if gate is None or not gate.held:
            break
    await settle(pilot)


async def test_a_burst_fills_the_new_request_form_it_opens(ctx, app_factory):
    app = app_factory(ctx)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        # n opens the form; without the gate the keys after it went to the Requests table
        # (lost) and those after each Enter into the field it had just left
        _burst(app, ["n", *_keys("Lena Fictive"), "enter", *_keys("crm-7"), "enter",
                     *_keys("art17-1a"), "enter", *_keys("What is Lena Fictive's email?"),
                     "enter", *_keys("Lena Fictive's email is lena@example.test."),
                     "ctrl+s"])
        await _drain(pilot)
        assert not isinstance(app.screen, NewRequestScreen), "the form did not save"
        with ctx.store.session() as s:
            (req,) = s.exec(select(Request)).all()
            (fact,) = s.exec(select(Fact).where(Fact.request_id == req.id)).all()
            assert (req.subject_name, req.subject_reference, req.ground) == (
                "Lena Fictive", "crm-7", "art17-1a")
            assert (fact.question, fact.answer) == (
                "What is Lena Fictive's email?", "Lena Fictive's email is lena@example.test.")


async def test_a_burst_after_a_focus_move_goes_to_the_new_field(ctx, app_factory):
    app = app_factory(ctx)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        _burst(app, ["slash", *_keys("DSR-9")])  # / moves to the search field
        await _drain(pilot)
        assert app.screen.query_one("#requests-search").value == "DSR-9"
