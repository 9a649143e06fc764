"""Keys reach the screen and field that are current once the previous key has had its effect.

Textual hands each key to the widget focused *when the app reads it* and goes on to the next
key at once; the key's effect (a binding that opens a dialog, Enter moving to the next field,
a dialog mounting and taking focus) happens later, in the widgets' own queues. Keys that the
terminal delivers while the app is busy (fast typing, a loaded machine) were therefore handed
to the screen below a dialog that was opening, to a dialog not yet mounted (lost), or to the
field that Enter had just left.

``KeyGate`` makes the app take keys one at a time: a key is handed on only once the previous
one has gone all the way up its path (the focused widget, its parents, the screen, the app),
the screen in front is mounted, and two rounds through those queues in a row handled
nothing but the gate's own callbacks while neither the screen nor the focus changed. Keys
that come meanwhile wait in order; none is dropped. A round is a ``call_later`` barrier on
each of those widgets (the way Textual's test pilot waits for a screen) and what they handle
is counted through their public ``message_signal``: queue sizes cannot tell, since a widget
takes its next message out of the queue before it handles the current one.
"""

from __future__ import annotations

from collections import deque
from time import monotonic
from typing import TYPE_CHECKING

from textual import events
from textual.app import ScreenStackError
from textual.dom import DOMNode
from textual.message import Message

if TYPE_CHECKING:
    from textual.app import App
    from textual.timer import Timer

QUIET_ROUNDS = 2     # rounds in a row with nothing pending before the next key goes
ROUND_CHECK_S = 0.25  # a round not back by then (a queue that closed) is started again
MAX_WAIT_S = 5.0     # a key never waits longer than this for the previous one's effects


class KeyGate:
    """Holds keys while an earlier key's effects are still on their way (see module doc)."""

    def __init__(self, app: App) -> None:
        self.app = app
        self._backlog: deque[events.Key] = deque()
        self._released: events.Key | None = None
        self._busy = False
        self._handing = False  # a released key is on its way back to hold()
        self._round = 0        # the round whose barrier callbacks count
        self._waiting = 0      # barrier callbacks of that round still to come
        self._quiet = 0
        self._started = 0.0
        self._round_started = 0.0
        self._path: list[DOMNode] = []
        self._watched: list[DOMNode] = []  # whose message_signal the gate listens to
        self._handled = 0  # messages those handled this round, the gate's own left out
        self._state: tuple[object, ...] = ()
        self._timer: Timer | None = None

    @property
    def held(self) -> int:
        """Keys waiting for their turn."""
        return len(self._backlog)

    def hold(self, event: events.Key) -> bool:
        """Called for each key the app reads; True when it waits (it comes back later)."""
        if event is self._released:
            self._released, self._handing = None, False
        elif self._busy:
            self._backlog.append(event)
            return True
        self._busy = True
        self._started = monotonic()
        self._quiet = 0
        app = self.app
        # where Textual sends the key once this returns (a priority binding aside)
        self._path = list((app.focused or app.screen).ancestors_with_self)
        if self._timer is None:
            self._timer = app.set_interval(ROUND_CHECK_S, self._check_stalled)
        app.call_later(self._next_round)  # after the key is handed on
        return False

    # -- waiting for the key's effects ------------------------------------------------------

    def _pumps(self) -> list[DOMNode]:
        app = self.app
        nodes: dict[int, DOMNode] = {}
        current = app.focused or app.screen
        for node in (*self._path, *current.ancestors_with_self):
            if node.is_running:
                nodes[id(node)] = node
        return list(nodes.values())

    def _snapshot(self) -> tuple[object, ...]:
        app = self.app
        screen = app.screen
        return (id(screen), len(app.screen_stack), id(app.focused), screen.is_mounted)

    def _seen(self, message: Message) -> None:
        if not (isinstance(message, events.Callback)
                and getattr(message.callback, "func", None) == self._tick):
            self._handled += 1

    def _watch(self, pumps: list[DOMNode]) -> None:
        for pump in pumps:
            if pump not in self._watched:
                pump.message_signal.subscribe(self.app, self._seen, immediate=True)
                self._watched.append(pump)

    def _next_round(self) -> None:
        self._round += 1
        self._round_started = monotonic()
        this_round = self._round
        try:
            self._state = self._snapshot()
            pumps = self._pumps()
        except ScreenStackError:  # the app is closing: nothing left to wait for
            self._backlog.clear()
            self._release()
            return
        self._watch(pumps)
        self._handled = 0
        self._waiting = 0
        for pump in pumps:
            if pump.call_later(self._tick, this_round):
                self._waiting += 1
        if self._waiting == 0:
            self._round_done()

    def _tick(self, this_round: int) -> None:
        if this_round != self._round:
            return  # a round given up on (a queue closed under it)
        self._waiting -= 1
        if self._waiting == 0:
            self._round_done()

    def _round_done(self) -> None:
        try:
            settled = (self._handled == 0 and self._snapshot() == self._state
                       and self.app.screen.is_mounted)
        except ScreenStackError:
            settled = False
        self._quiet = self._quiet + 1 if settled else 0
        if self._quiet >= QUIET_ROUNDS or monotonic() - self._started > MAX_WAIT_S:
            self._release()
        else:
            self._next_round()

    def _check_stalled(self) -> None:
        if (not self._busy or self._handing
                or monotonic() - self._round_started < ROUND_CHECK_S):
            return
        self._quiet = 0
        if monotonic() - self._started > MAX_WAIT_S:
            self._release()
        else:
            self._next_round()

    def _release(self) -> None:
        self._round += 1  # late callbacks of the last round are ignored
        if self._backlog:
            self._released, self._handing = self._backlog.popleft(), True
            self.app.post_message(self._released)  # read again, in order, by hold()
            return
        self._busy = False
        for pump in self._watched:
            pump.message_signal.unsubscribe(self.app)
        self._watched.clear()
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
