"""The one masking rule, for every widget that can show a private value.

A private value is any text that may name or describe the data subject: a fact's question
and answer, a variant's question and answer, a probe's question and answer, what a model
answered in the Probe console, the question typed there. Such text reaches the screen only
through :func:`shown` (table cells, one-line summaries), :class:`PrivateText` (panes, full
texts; it re-renders itself when the reveal key is pressed) or :class:`PrivateInput` (a
field that may hold one: dots until revealed). Everything else on screen (ids, pseudonyms,
states, categories, figures, event details) never holds one. ``tests/tui/test_masking.py``
walks every screen and dialog masked and checks no known value shows.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rich.text import Text
from textual.widgets import Input, Static

from relearn_tui.tui.formatting import short

MASK = "•••••"


def revealed(app: object) -> bool:
    """Whether the operator pressed the reveal key (masked when the app does not say)."""
    return bool(getattr(app, "reveal", False))


def shown(text: str | None, hint: str | None = None, *, reveal: bool,
          width: int | None = None, purged: str = "(purged)") -> str:
    """``text`` when revealed (cut to ``width`` for a table cell), else a mask that says what
    kind of thing is hidden; ``purged`` when the value was erased."""
    if text is None:
        return purged
    if not reveal:
        return f"{MASK} ({hint})" if hint else MASK
    return short(text, width) if width else text


@dataclass(frozen=True)
class Private:
    """A piece of private text inside a pane, with what to say when it is masked."""

    text: str | None
    hint: str | None = None
    style: str = ""


@dataclass(frozen=True)
class WhileMasked:
    """A hint shown only while values are masked ("v reveals")."""

    text: str


Part = str | Text | Private | WhileMasked


def render_parts(parts: Iterable[Part], reveal: bool) -> Text:
    """Public parts as they are, private ones whole (never cut) or masked."""
    out = Text()
    for part in parts:
        if isinstance(part, WhileMasked):
            if not reveal:
                out.append(part.text, style="dim")
        elif isinstance(part, Private):
            out.append(shown(part.text, part.hint, reveal=reveal),
                       style=part.style if reveal else "dim")
        elif isinstance(part, Text):
            out.append_text(part)
        else:
            out.append(part)
    return out


class PrivateText(Static):
    """A wrapped pane whose private parts follow the reveal key; texts are never cut."""

    def __init__(self, parts: Sequence[Part] = (), **kwargs) -> None:
        super().__init__("", markup=False, **kwargs)
        self.parts: list[Part] = list(parts)

    def on_mount(self) -> None:
        self.watch(self.app, "reveal", lambda _: self._render_parts(), init=False)
        self._render_parts()

    def show(self, parts: Sequence[Part]) -> None:
        self.parts = list(parts)
        self._render_parts()

    def plain(self) -> str:
        """What the pane shows now (for tests and the clipboard-free reader)."""
        return render_parts(self.parts, revealed(self.app)).plain

    def _render_parts(self) -> None:
        self.update(render_parts(self.parts, revealed(self.app)))


class PrivateInput(Input):
    """A field that may hold a private value: typed characters show as dots until revealed."""

    def on_mount(self) -> None:
        self.watch(self.app, "reveal", self._follow, init=True)

    def _follow(self, reveal: bool) -> None:
        self.password = not reveal
