"""Requests: every erasure request with its state and deadline; import, new, deny, cancel,
extend, augment."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import DataTable, Input, Label, Static

from relearn_tui import workflow
from relearn_tui.tui import data
from relearn_tui.tui.formatting import days_left_text, state_text
from relearn_tui.tui.masking import PrivateInput
from relearn_tui.tui.messages import OpenRequest, OpenReview
from relearn_tui.tui.screens.base import AppScreen, guarded
from relearn_tui.tui.screens.detail import confirm_augment
from relearn_tui.tui.screens.modals import ExtendScreen, ImportScreen, ReasonScreen
from relearn_tui.tui.screens.new_request import NewRequestScreen
from relearn_tui.tui.widgets.tables import refill, selected_key

STATE_FILTERS: tuple[str | None, ...] = (None, *workflow.STATES)


class RequestsScreen(AppScreen):
    SECTION = "requests"
    TITLE_TEXT = "Requests"
    AUTO_FOCUS = "#requests-table"
    BINDINGS = [
        Binding("enter", "open", "Open", id="requests.open",
                tooltip="Open the request: facts, timeline of events, metrics"),
        Binding("i", "import", "Import", id="requests.import",
                tooltip="Import a file or folder of requests (*.json, *.jsonl)"),
        Binding("n", "new", "New", id="requests.new",
                tooltip="Type in a new request with its facts"),
        Binding("a", "augment", "Augment", id="requests.augment",
                tooltip="Generate and verify variants for the selected request"),
        Binding("A", "augment_all", "Augment all submitted", show=False,
                id="requests.augment_all",
                tooltip="Augment every request still in submitted"),
        Binding("f", "filter", "State filter", id="requests.filter",
                tooltip="Cycle the state filter (all, submitted, augmented, ...)"),
        Binding("slash", "search", "Search", id="requests.search",
                key_display="/",
                tooltip="Search by id, pseudonym, state or the subject's name"),
        Binding("d", "deny", "Deny", show=False, id="requests.deny",
                tooltip="Deny the request, with a reason (final)"),
        Binding("c", "cancel_request", "Cancel request", show=False, id="requests.cancel",
                tooltip="Cancel the request, with a reason (final)"),
        Binding("e", "extend", "Extend deadline", show=False, id="requests.extend",
                tooltip="Extend the deadline by 1 or 2 months, with a reason"),
        Binding("r", "review", "Review request", show=False, id="requests.review",
                tooltip="Review the selected request's variants"),
    ]

    state_filter: str | None = None

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="requests-filters", classes="toolbar"):
            # a name may be typed here: the field follows the masking rule
            yield PrivateInput(placeholder="/ search id, pseudonym, state or subject's name",
                               id="requests-search", compact=True)
            yield Label("state: all (f)", id="requests-state")
        table: DataTable = DataTable(id="requests-table", cursor_type="row", zebra_stripes=True)
        table.add_column("request", key="id", width=16)
        table.add_column("subject", key="subject", width=14)
        table.add_column("state", key="state", width=14)
        table.add_column("facts", key="facts", width=5)
        table.add_column("deadline", key="deadline", width=10)
        table.add_column("left", key="left", width=6)
        yield table
        yield Static("", id="requests-summary", classes="summary")

    def focus_main(self) -> None:
        self.query_one("#requests-table", DataTable).focus()

    def reload(self) -> None:
        search = self.query_one("#requests-search", Input).value
        rows = data.requests(self.services.ctx.store, self.services.today(),
                             state=self.state_filter, search=search,
                             secret=self.services.ctx.secret)
        table = self.query_one("#requests-table", DataTable)
        refill(table, [(r.request_id, (r.request_id, r.subject, state_text(r.state),
                                       Text(str(r.facts), justify="right"), r.deadline,
                                       days_left_text(r.days_left)
                                       if r.state not in workflow.TERMINAL else Text("-")))
                       for r in rows])
        open_rows = [r for r in rows if r.state not in workflow.TERMINAL]
        overdue = sum(r.days_left < 0 for r in open_rows)
        soon = sum(0 <= r.days_left < 7 for r in open_rows)
        summary = Text(f"{len(rows)} request(s)")
        if overdue:
            summary.append(f" · {overdue} overdue", style="bold red")
        if soon:
            summary.append(f" · {soon} due within 7 days", style="bold #ffb000")
        if not rows and not search and self.state_filter is None:
            summary = Text("No requests yet: i imports a file or folder, n types one in.")
        self.query_one("#requests-summary", Static).update(summary)

    # -- helpers --------------------------------------------------------------------------------

    def current(self) -> str | None:
        return selected_key(self.query_one("#requests-table", DataTable))

    def _need_current(self) -> str | None:
        rid = self.current()
        if rid is None:
            self.notify("No request selected.", severity="warning")
        return rid

    # -- events ---------------------------------------------------------------------------------

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.post_message(OpenRequest(str(event.row_key.value)))

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "requests-search":
            self.safe_reload()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "requests-search":
            self.focus_main()

    # -- actions --------------------------------------------------------------------------------

    @guarded
    def action_open(self) -> None:
        rid = self._need_current()
        if rid:
            self.post_message(OpenRequest(rid))

    def action_search(self) -> None:
        self.query_one("#requests-search", Input).focus()

    @guarded
    def action_filter(self) -> None:
        index = STATE_FILTERS.index(self.state_filter)
        self.state_filter = STATE_FILTERS[(index + 1) % len(STATE_FILTERS)]
        self.query_one("#requests-state", Label).update(
            f"state: {self.state_filter or 'all'} (f)")
        self.reload()

    def action_import(self) -> None:
        def chosen(values: dict[str, Any] | None) -> None:
            if values:
                self.services.import_paths([values["path"].strip()],
                                          subject=values["subject"].strip() or None)

        self.app.push_screen(ImportScreen(), chosen)

    def action_new(self) -> None:
        self.app.push_screen(
            NewRequestScreen(),
            lambda obj: obj and self.services.attempt("store the request", self._store_new, obj))

    def _store_new(self, obj: dict[str, Any]) -> None:
        from datetime import UTC, datetime
        from pathlib import Path

        from relearn_tui.importer import parse_request, store_parsed
        from relearn_tui.tui.screens.new_request import FORM_SOURCE

        ctx = self.services.ctx
        parsed = parse_request(obj, Path(FORM_SOURCE), "", datetime.now(UTC))
        with ctx.store.session() as s:
            report = store_parsed(s, [parsed], secret=ctx.secret, actor=ctx.operator)
        self.services.data_changed()
        rid = (report.created or report.unchanged)[0]
        self.notify(f"{rid} stored with {len(parsed.facts)} fact(s); a augments it.",
                    title="New request")
        from relearn_tui.tui.widgets.tables import move_to

        move_to(self.query_one("#requests-table", DataTable), rid)

    @guarded
    def action_augment(self) -> None:
        rid = self._need_current()
        if not rid:
            return
        state = next((r.state for r in data.requests(self.services.ctx.store, search=rid)
                      if r.request_id == rid), None)
        confirm_augment(self, rid, state)

    @guarded
    def action_augment_all(self) -> None:
        ids = [r.request_id for r in data.requests(self.services.ctx.store,
                                                    state=workflow.SUBMITTED)]
        if not ids:
            self.notify("No request is waiting in submitted.", severity="warning")
            return
        self.services.augment(ids)

    def action_deny(self) -> None:
        self._decide("deny")

    def action_cancel_request(self) -> None:
        self._decide("cancel")

    def _decide(self, what: str) -> None:
        rid = self._need_current()
        if not rid:
            return
        from relearn_tui import operations

        state = next((r.state for r in data.requests(self.services.ctx.store,
                                                     self.services.today(), search=rid)
                      if r.request_id == rid), None)
        if state in workflow.TERMINAL:  # said now, not after a reason was typed for nothing
            self.notify(f"{rid} is {state}: that is final, nothing more is decided on it.",
                        severity="warning")
            return
        op = operations.deny if what == "deny" else operations.cancel
        note = ("Refuse the request (identity not verified, an Art. 17(3) exemption...). "
                if what == "deny" else "Withdraw the request (the subject withdrew it...). ")
        ctx = self.services.ctx

        def decide(values: dict[str, str]) -> None:
            op(ctx.store, rid, actor=ctx.operator, reason=values["reason"])

        def done(values: dict[str, Any] | None) -> None:
            if values:
                self.services.data_changed()
                self.notify(f"{rid}: {'denied' if what == 'deny' else 'canceled'}.")

        self.app.push_screen(
            ReasonScreen(f"{what.capitalize()} {rid}", note + "This is final.", submit=decide),
            done)

    @guarded
    def action_extend(self) -> None:
        rid = self._need_current()
        if not rid:
            return
        from relearn_tui import operations

        row = next(r for r in data.requests(self.services.ctx.store, self.services.today(),
                                            search=rid) if r.request_id == rid)
        ctx = self.services.ctx
        result: dict[str, str] = {}

        def extend(values: dict[str, str]) -> None:
            result["deadline"] = operations.extend_deadline(
                ctx.store, rid, months=int(values["months"]), actor=ctx.operator,
                reason=values["reason"], late=bool(values.get("override")),
                today=self.services.today())

        def done(values: dict[str, Any] | None) -> None:
            if values:
                self.services.data_changed()
                self.notify(f"{rid}: deadline now {result['deadline']}.")

        self.app.push_screen(ExtendScreen(rid, row.extension_months, row.days_left,
                                          row.deadline, submit=extend), done)

    def action_review(self) -> None:
        rid = self._need_current()
        if rid:
            self.post_message(OpenReview(rid))
