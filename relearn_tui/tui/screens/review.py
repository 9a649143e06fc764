"""Review: a request's variants grouped by fact and kind, flagged ones highlighted; approve,
reject, edit, bulk-approve a fact, jump between unreviewed variants.

Every decision goes through :mod:`relearn_tui.review`, which logs it with the operator's name
and moves the request to human_reviewed once every fact has an approved variant.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Static

from engine.pii import VALUE_CATEGORIES
from relearn_tui import review as decisions
from relearn_tui import values as fact_values
from relearn_tui.tui import data
from relearn_tui.tui.formatting import short, state_text
from relearn_tui.tui.masking import Part, Private, PrivateText, WhileMasked, shown
from relearn_tui.tui.screens.base import AppScreen, guarded
from relearn_tui.tui.screens.modals import (
    ConfirmScreen,
    EditVariantScreen,
    FullTextScreen,
    MarkValueScreen,
    PickScreen,
    ReasonScreen,
)
from relearn_tui.tui.widgets.tables import move_to, refill, selected_key

STATUS_STYLE = {"approved": "green", "rejected": "dim strike", "pending": ""}




def variant_parts(v: data.VariantView) -> list[Part]:
    """A variant's whole texts, as the detail pane and the full-text view show them."""
    return ["Q: ", Private(v.question, "question"), "\nA: ", Private(v.answer, "answer")]


class ReviewScreen(AppScreen):
    SECTION = "review"
    SHOWS_PRIVATE = True
    AUTO_FOCUS = "#variants-table"
    BINDINGS = [
        Binding("a", "approve", "Approve", id="review.approve",
                tooltip="Approve the variant (a flagged one asks first: an override)"),
        Binding("x", "reject", "Reject", id="review.reject", tooltip="Reject the variant"),
        Binding("e", "edit", "Edit", id="review.edit",
                tooltip="Edit the variant in place; it is verified again"),
        Binding("A", "approve_fact", "Fact", id="review.approve_fact", key_display="A",
                tooltip="Approve every unflagged open variant of this fact"),
        Binding("n", "next_open", "Next", id="review.next",
                tooltip="Next variant still waiting for a decision"),
        Binding("p", "previous_open", "Previous", show=False, id="review.previous",
                tooltip="Previous variant still waiting for a decision"),
        Binding("r", "pick_request", "Request", show=False, id="review.pick",
                tooltip="Choose the request to review"),
        Binding("right_square_bracket", "step_request(1)", "Next request", show=False,
                id="review.next_request",
                key_display="]",
                tooltip="Next request open for review"),
        Binding("left_square_bracket", "step_request(-1)", "Previous request", show=False,
                id="review.previous_request",
                key_display="[",
                tooltip="Previous request open for review"),
        Binding("o", "full_text", "Text", id="review.full_text",
                tooltip="Read the variant's whole question and answer (wrapped, scrollable)"),
        Binding("u", "undo", "Undo", id="review.undo",
                tooltip="Undo the last decision made here (the variants are open again)"),
        Binding("m", "mark_value", "Mark value", show=False, id="review.mark_value",
                tooltip="Mark a private value the detector missed in this fact's answer"),
        Binding("M", "no_value", "No value", show=False, id="review.no_value",
                key_display="M",
                tooltip="Record why this fact holds no private value (needed to complete the "
                        "review of a fact without one)"),
        Binding("v", "app.toggle_reveal", "Reveal", id="review.reveal",
                tooltip="Show or mask the variants' texts"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.request_id: str | None = None
        self.review: data.ReviewData | None = None
        self._jump_to_open = False
        self.last_decision: list[int] = []  # the variants of the last decision (for undo)
        self.fact_values: dict[int, fact_values.FactValues] = {}  # by fact number

    def compose_body(self) -> ComposeResult:
        yield Static("", id="review-head", classes="head")
        table: DataTable = DataTable(id="variants-table", cursor_type="row")
        table.add_column("fact", width=9)
        table.add_column("kind", width=10)
        table.add_column("status", width=8)
        table.add_column("check", width=5)
        table.add_column("question", width=16)
        table.add_column("answer", width=18)
        yield table
        with VerticalScroll(id="variant-scroll", classes="detail-pane"):
            yield PrivateText(id="variant-detail")

    def focus_main(self) -> None:
        self.query_one("#variants-table", DataTable).focus()

    # -- loading --------------------------------------------------------------------------------

    def select_request(self, request_id: str) -> None:
        self.request_id = request_id
        self._jump_to_open = True
        if self.ready:
            self.safe_reload()

    def reload(self) -> None:
        store = self.services.ctx.store
        open_requests = data.reviewable_requests(store)
        ids = [r[0] for r in open_requests]
        changed = self.request_id not in ids
        if changed:
            # the first request that still waits for decisions, else the first reviewable one
            waiting = [r[0] for r in open_requests if r[3] > 0]
            self.request_id = (waiting or ids or [None])[0]
        table = self.query_one("#variants-table", DataTable)
        if self.request_id is None:
            self.review = None
            table.clear()
            self.query_one("#review-head", Static).update(
                "Nothing to review: augment a request first (1, then a).")
            self.query_one("#variant-detail", PrivateText).show([])
            return
        self.review = data.review_data(store, self.request_id)
        self.fact_values = {f.number: f for f in fact_values.fact_values(store, self.request_id)}
        reveal = self.services.reveal
        rows = []
        last_fact = None
        for v in self.review.variants:
            fact = "" if v.fact_id == last_fact else f"#{v.fact_position + 1} " + (
                v.fact_category or "")
            last_fact = v.fact_id
            check = (Text("FLAG", style="bold white on red") if v.flagged
                     else Text("ok", style="green"))
            status = Text(v.status + ("*" if v.edited else ""),
                          style=STATUS_STYLE.get(v.status, ""))
            rows.append((str(v.variant_id), (
                short(fact, 9), v.kind, status, check,
                shown(v.question, reveal=reveal, width=16),
                shown(v.answer, reveal=reveal, width=18))))
        refill(table, rows)
        if changed or self._jump_to_open:
            self._jump_to_open = False
            self._move(1, from_start=True)
        self._update_head()
        self._update_detail()

    def _update_head(self) -> None:
        head = Text()
        r = self.review
        if r is None:
            return
        head.append(r.request_id, style="bold")
        head.append(f"  {r.subject}  ")
        head.append_text(state_text(r.state))
        total = r.counts()
        head.append(f"  {total['approved']} approved · {total['pending']} open")
        if total["flagged"]:
            head.append(f" · {total['flagged']} flagged", style="bold red")
        v = self.current()
        if v is not None:
            c = r.counts(v.fact_id)
            facts = sorted({x.fact_position for x in r.variants})
            head.append(f"\nfact {v.fact_position + 1}/{len(facts)} "
                        f"{v.fact_category or ''}: {c['approved']} approved, "
                        f"{c['pending']} open", style="dim")
            if c["approved"] == 0:
                head.append("  needs one approved variant", style="#ffb000")
            fv = self.fact_values.get(v.fact_position + 1)
            if fv is not None and fv.values:
                head.append(f" · values: {', '.join(c for c, _, _ in fv.values)}", style="dim")
            elif fv is not None and not fv.no_value_recorded:
                head.append("  no private value: m marks one, M records why",
                            style="#ffb000")
        self.query_one("#review-head", Static).update(head)

    def _update_detail(self) -> None:
        v = self.current()
        pane = self.query_one("#variant-detail", PrivateText)
        if v is None:
            pane.show([])
            return
        head = Text(f"variant {v.variant_id} · {v.kind} · {v.status}")
        if v.reviewed_by:
            head.append(f" by {v.reviewed_by}")
        if v.edited:
            head.append(" · edited")
        head.append(f" · written by {v.backend}" if v.backend else "")
        if v.fallback:
            head.append("\nthe LLM's reply for this fact was unusable: the offline templates "
                        "wrote this variant instead", style="#ffb000")
        if v.flagged:
            head.append("\nflagged: " + "; ".join(v.reasons), style="bold red")
        # the whole texts, wrapped: a decision is never made on a cut answer
        pane.show([head, "\n", *variant_parts(v),
                   WhileMasked("\n(masked: v reveals, o reads it whole)")])

    def on_data_table_row_highlighted(self, _: DataTable.RowHighlighted) -> None:
        self._update_head()
        self._update_detail()

    # -- helpers --------------------------------------------------------------------------------

    def current(self) -> data.VariantView | None:
        if self.review is None:
            return None
        key = selected_key(self.query_one("#variants-table", DataTable))
        return next((v for v in self.review.variants if str(v.variant_id) == key), None)

    def _move(self, step: int, *, from_start: bool = False) -> bool:
        """Put the cursor on the next (or previous) variant still waiting for a decision."""
        if self.review is None:
            return False
        vs = self.review.variants
        cur = self.current()
        start = -1 if from_start or cur is None else vs.index(cur)
        n = len(vs)
        for i in range(1, n + 1):
            j = (start + step * i) % n if not from_start else (start + i) % n
            if vs[j].open:
                return move_to(self.query_one("#variants-table", DataTable),
                               str(vs[j].variant_id))
        return False

    def _after_decision(self, decided: list[int] | None = None) -> None:
        if decided:
            self.last_decision = decided
        state_before = self.review.state if self.review else None
        self.services.data_changed()
        if self.review is not None and state_before != self.review.state:
            self.notify(f"{self.review.request_id} is now {self.review.state}.",
                        title="Review")
        if not self._move(1):
            self.notify("Every variant of this request has a decision: ] opens the next "
                        "request, 3 the Runs screen.", timeout=4)

    # -- actions --------------------------------------------------------------------------------

    def action_first_open(self) -> None:
        self._move(1, from_start=True)

    def action_next_open(self) -> None:
        if not self._move(1):
            self.notify("No open variant left in this request.", timeout=3)

    def action_previous_open(self) -> None:
        if not self._move(-1):
            self.notify("No open variant left in this request.", timeout=3)

    @guarded
    def action_approve(self) -> None:
        v = self.current()
        if v is None:
            return
        ctx = self.services.ctx
        if v.flagged:
            def confirmed(yes: bool | None) -> None:
                if yes:
                    self.services.attempt("approve", decisions.approve, ctx.store, v.variant_id,
                                          actor=ctx.operator, override=True)
                    self._after_decision([v.variant_id])

            self.app.push_screen(ConfirmScreen(
                "Approve a flagged variant?",
                "Verification flagged it: " + "; ".join(v.reasons) + "\n\nApproving it anyway "
                "is recorded as an override. Editing it (e) is usually better.",
                yes="Approve anyway"), confirmed)
            return
        decisions.approve(ctx.store, v.variant_id, actor=ctx.operator)
        self._after_decision([v.variant_id])

    @guarded
    def action_reject(self) -> None:
        v = self.current()
        if v is None:
            return
        decisions.reject(self.services.ctx.store, v.variant_id, actor=self.services.ctx.operator)
        self._after_decision([v.variant_id])

    @guarded
    def action_approve_fact(self) -> None:
        v = self.current()
        if v is None:
            return
        variants = self.review.variants if self.review is not None else []
        bulk = [x.variant_id for x in variants
                if x.fact_id == v.fact_id and x.open and not x.flagged]
        n = decisions.approve_unflagged(self.services.ctx.store, v.fact_id,
                                        actor=self.services.ctx.operator)
        self.notify(f"Fact {v.fact_position + 1}: {n} unflagged variant(s) approved.",
                    timeout=3)
        self._after_decision(bulk)

    @guarded
    def action_edit(self) -> None:
        v = self.current()
        if v is None:
            return
        if not self.services.reveal:
            # the dialog shows the text in clear: editing starts only once it is revealed
            self.notify("Editing shows the variant's text: press v to reveal it first.",
                        severity="warning")
            return
        ctx = self.services.ctx
        variant_id = v.variant_id

        def chosen(values: dict[str, Any] | None) -> None:
            if not values:
                return

            def work() -> tuple[bool, tuple[str, ...]]:
                # the answer is verified again (PII scan): seconds the first time
                return decisions.edit(ctx.store, variant_id, actor=ctx.operator,
                                      question=values["question"], answer=values["answer"])

            def done(result: tuple[bool, tuple[str, ...]]) -> None:
                ok, reasons = result
                self.services.data_changed()
                if ok:
                    self.notify(f"Variant {variant_id} edited; verification passed. "
                                "Approve it with a.", title="Edited")
                else:
                    self.notify(f"Variant {variant_id} edited but still flagged: "
                                + "; ".join(reasons), severity="warning", title="Edited")

            self.services.run_job(work, name="edit", done=done, label="verifying edit…")

        self.app.push_screen(EditVariantScreen(variant_id, v.kind, v.question or "",
                                               v.answer or ""), chosen)

    @guarded
    def action_pick_request(self) -> None:
        options = [(rid, f"{rid}  {subject}  {state}  ({pending} open)")
                   for rid, subject, state, pending in
                   data.reviewable_requests(self.services.ctx.store)]
        if not options:
            self.notify("No request is open for review.", severity="warning")
            return

        def chosen(rid: str | None) -> None:
            if rid:
                self.select_request(rid)

        self.app.push_screen(PickScreen("Review which request?", options, self.request_id),
                             chosen)

    @guarded
    def action_step_request(self, step: int) -> None:
        ids = [r[0] for r in data.reviewable_requests(self.services.ctx.store)]
        if not ids:
            return
        i = ids.index(self.request_id) if self.request_id in ids else -step
        self.select_request(ids[(i + step) % len(ids)])

    def action_full_text(self) -> None:
        v = self.current()
        if v is None:
            return
        self.app.push_screen(FullTextScreen(
            f"Variant {v.variant_id} · fact {v.fact_position + 1} · {v.kind} · {v.status}",
            variant_parts(v)))

    @guarded
    def action_undo(self) -> None:
        if not self.last_decision:
            self.notify("No decision to undo on this screen.", severity="warning")
            return
        ids, self.last_decision = self.last_decision, []
        state = decisions.undo(self.services.ctx.store, ids, actor=self.services.ctx.operator)
        self.services.data_changed()
        move_to(self.query_one("#variants-table", DataTable), str(ids[0]))
        self.notify(f"Undone: {len(ids)} variant(s) open again; the request is {state}.",
                    title="Review")

    @guarded
    def action_mark_value(self) -> None:
        v = self.current()
        if v is None or self.request_id is None:
            return
        ctx, rid, number = self.services.ctx, self.request_id, v.fact_position + 1

        def submit(values: dict[str, str]) -> None:
            result = fact_values.mark_value(ctx.store, ctx.secret, rid, number, values["value"],
                                            values["category"].strip(), actor=ctx.operator)
            self.notify(f"Fact {number}: {values['category'].strip()} marked; "
                        f"{result.flagged} variant(s) hold it and are flagged "
                        f"({result.revoked} approval(s) withdrawn).", title="Review")

        def closed(_: object) -> None:
            self.services.data_changed()

        self.app.push_screen(MarkValueScreen(number, VALUE_CATEGORIES, submit=submit), closed)

    @guarded
    def action_no_value(self) -> None:
        v = self.current()
        if v is None or self.request_id is None:
            return
        ctx, rid, number = self.services.ctx, self.request_id, v.fact_position + 1

        def submit(values: dict[str, str]) -> None:
            fact_values.record_no_value(ctx.store, rid, number, actor=ctx.operator,
                                        reason=values["reason"])
            self.notify(f"Fact {number}: recorded why it holds no private value.",
                        title="Review")

        def closed(_: object) -> None:
            self.services.data_changed()

        self.app.push_screen(ReasonScreen(
            f"Fact {number} holds no private value",
            note="Say why (kept in the event log: no name, no value). Without a private value "
                 "the leak probes have nothing to look for.", submit=submit), closed)
