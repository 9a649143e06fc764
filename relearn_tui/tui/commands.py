"""Command palette providers (ctrl+p): every key binding of every numbered screen and of the
app as a command (one on another screen goes there first), a jump to any stored request or
run, and the request detail's actions for each request (the detail opens, then acts)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider


class ActionsProvider(Provider):
    """Each binding with an id, on the screen the palette was opened from, is a command, so
    whatever a key does can also be found by name."""

    def _commands(self) -> list[tuple[str, str, Callable[[], Any]]]:
        seen: set[str] = set()
        out = []
        for key, active in self.screen.active_bindings.items():
            binding = active.binding
            if not binding.id or binding.id in seen or not binding.description:
                continue
            if not active.enabled:
                continue
            seen.add(binding.id)
            shown = binding.key_display or self.app.get_key_display(binding)
            run = functools.partial(self.app.run_action, binding.action, active.node)
            title = binding.tooltip or binding.description
            out.append((title, f"key {shown or key} · {binding.id}", run))
        # the other numbered screens' actions: the command switches there, then acts
        modes: dict[str, Any] = getattr(self.app, "MODES", {})
        for mode, screen_class in modes.items():
            if isinstance(self.screen, screen_class):
                continue
            for binding in getattr(screen_class, "BINDINGS", []):
                if (not isinstance(binding, Binding) or not binding.id
                        or binding.id in seen or not binding.description):
                    continue
                seen.add(binding.id)
                where = getattr(screen_class, "SECTION", mode).capitalize()
                title = f"{binding.tooltip or binding.description} ({where})"
                shown = binding.key_display or binding.key
                out.append((title, f"key {shown} on {where} · {binding.id}",
                            functools.partial(self._run_on, mode, binding.action)))
        return out

    async def _run_on(self, mode: str, action: str) -> None:
        app: Any = self.app
        if app.current_mode != mode:
            await app.switch_mode(mode)
        while len(app.screen_stack) > 1:
            app.pop_screen()
        await app.run_action(action, app.screen)

    async def discover(self) -> Hits:
        for title, help_text, run in self._commands():
            yield DiscoveryHit(title, run, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, run in self._commands():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), run, text=title, help=help_text)


# Request-detail bindings the palette does not offer per request: going back has no meaning
# from elsewhere, "Review request X" is offered already (it goes straight to the Review
# screen), and the full text is of the fact selected in the detail, which a command cannot pick.
_NOT_PER_REQUEST = frozenset({"back", "review", "full_text"})


def detail_commands(state: str) -> list[Binding]:
    """The request detail's bindings that make sense as a command on a request in ``state``,
    read from the detail screen itself so a binding added there is offered here too."""
    from relearn_tui import workflow
    from relearn_tui.tui.screens.detail import RequestDetailScreen

    out = []
    for binding in RequestDetailScreen.BINDINGS:
        if (not isinstance(binding, Binding) or not binding.id or binding.action.startswith("app.")
                or binding.action in _NOT_PER_REQUEST):
            continue
        if binding.action == "augment" and state not in workflow.AUGMENTABLE:
            continue
        out.append(binding)
    return out


class RecordsProvider(Provider):
    """Jump to a stored request (its detail, its review) or a run (its audit), or run one of
    the request detail's actions on a request from any screen."""

    async def startup(self) -> None:
        from relearn_tui import workflow
        from relearn_tui.tui import data

        app: Any = self.app
        self.items: list[tuple[str, str, Callable[[], Any]]] = []
        for row in data.requests(app.ctx.store, app.today()):
            about = f"{row.subject} · {row.state}"
            self.items.append((f"Open request {row.request_id}", about,
                               functools.partial(app.open_request, row.request_id)))
            if row.state in workflow.REVIEWABLE:
                self.items.append((f"Review request {row.request_id}", about,
                                   functools.partial(app.open_review, row.request_id)))
            if row.state in workflow.TERMINAL:
                continue  # closed: opening it shows everything there is
            for binding in detail_commands(row.state):
                self.items.append((
                    f"Request {row.request_id}: {binding.description}",
                    f"{about} · key {binding.key} in its detail · {binding.tooltip}",
                    functools.partial(self._on_detail, row.request_id, binding.action)))
        for run in data.runs(app.ctx.store):
            self.items.append((f"Audit of run {run.run_id}", f"{run.method} · {run.state}",
                               functools.partial(app.open_audit, run.run_id)))

    async def _on_detail(self, request_id: str, action: str) -> None:
        app: Any = self.app
        await app.open_request(request_id)
        await app.run_action(action, app.screen)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, run in self.items:
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), run, text=title, help=help_text)
