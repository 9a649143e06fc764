"""Runs: choose reviewed requests, a method and its main settings, launch; watch progress;
cancel; past runs with their state, and resuming an interrupted one. The deployment, its
model and thresholds, and the settings a launch will use are shown before it starts."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Input, Label, Select, SelectionList, Static

from engine.train.config import METHOD_NAMES
from relearn_tui import workflow
from relearn_tui.errors import OperatorError
from relearn_tui.runs import RESUMABLE, RunSettings
from relearn_tui.tui import data
from relearn_tui.tui.formatting import state_text
from relearn_tui.tui.messages import OpenAudit
from relearn_tui.tui.screens.base import AppScreen, guarded
from relearn_tui.tui.widgets.run_monitor import RunMonitor
from relearn_tui.tui.widgets.tables import ListTable, refill, selected_key


class RunsScreen(AppScreen):
    SECTION = "runs"
    AUTO_FOCUS = "#run-requests"
    _live_stage: tuple[object, ...] | None = None
    BINDINGS = [
        Binding("l", "launch", "Launch", id="runs.launch",
                tooltip="Launch a run on the selected requests with the method and settings"),
        Binding("c", "cancel_run", "Cancel run", id="runs.cancel",
                tooltip="Cancel the run in progress (stops at the next step, resumable)"),
        Binding("u", "resume", "Resume", id="runs.resume",
                tooltip="Resume the selected interrupted run"),
        Binding("enter", "open_audit", "Audit", show=False, id="runs.audit",
                tooltip="Open the selected run's audit"),
        Binding("s", "focus_settings", "Settings", show=False, id="runs.settings",
                tooltip="Focus the method and settings (Tab moves on to epochs, lr)"),
    ]

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="runs-top"):
            with Vertical(id="new-run"):
                yield Label("New run · space selects requests", classes="section-title",
                            id="new-run-title")
                with Horizontal(id="run-settings"):
                    yield Select([(m, m) for m in METHOD_NAMES], value=METHOD_NAMES[0],
                                 allow_blank=False, id="run-method", compact=True)
                    yield Input(placeholder="epochs", id="run-epochs", compact=True,
                                type="integer")
                    yield Input(placeholder="lr", id="run-lr", compact=True, type="number")
                yield Static("", id="run-deployment", classes="note")
                yield SelectionList[str](id="run-requests")
                yield Static("No request is in human_reviewed: review one first (2).",
                             id="run-none", classes="note")
            yield RunMonitor(id="run-monitor")
        # the bars the launch's audit will hold each request to, before it starts
        yield Static("", id="run-thresholds", classes="note")
        table = ListTable(id="runs-table", cursor_type="row", zebra_stripes=True,
                          empty_message="No run yet: launch one with l.")
        table.add_column("run", width=24)
        table.add_column("method", width=8)
        table.add_column("state", width=11)
        table.add_column("requests", width=8)
        table.add_column("created", width=16)
        yield table

    def on_mount(self) -> None:
        super().on_mount()
        self.watch(self.app, "status_tick", lambda _: self._show_live(), init=False)
        try:  # start from the deployment's method; a bad deployment file is reported on launch
            method = self.services.ctx.deployment.train.method
        except Exception:
            method = None
        if method in METHOD_NAMES:
            self.query_one("#run-method", Select).value = method
        self.show_settings()

    def show_settings(self) -> None:
        """What a launch will use: the deployment and model, and the method, epochs and lr
        as the run will store them (the deployment's, with the form's changes)."""
        from relearn_tui.runs import train_config
        from relearn_tui.tui.formatting import model_label, thresholds_line

        line = self.query_one("#run-deployment", Static)
        bars = self.query_one("#run-thresholds", Static)
        try:
            dep = self.services.ctx.deployment
            train = train_config(dep, self.settings())
        except Exception as exc:  # a bad field or deployment file: said here and on launch
            line.update(Text(str(exc), style="red"))
            bars.update("")
            return
        bars.update(thresholds_line(dep.thresholds.to_dict()))
        self.query_one("#run-epochs", Input).placeholder = f"epochs {dep.train.epochs}"
        self.query_one("#run-lr", Input).placeholder = f"lr {dep.train.lr:g}"
        text = Text()
        if dep.source is None:
            text.append("no deployment: ", style="bold red")
        text.append(f"{dep.name} · {model_label(dep)}\n")
        text.append(f"{train.method} · {train.epochs} epochs · lr {train.lr:g}", style="bold")
        line.update(text)

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id in ("run-epochs", "run-lr"):
            self.show_settings()

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "run-method":
            self.show_settings()

    def on_selection_list_selected_changed(self, _: SelectionList.SelectedChanged) -> None:
        self._count()

    def _count(self) -> None:
        sl = self.query_one("#run-requests", SelectionList)
        self.query_one("#new-run-title", Label).update(
            f"New run · {len(sl.selected)} of {sl.option_count} selected (space)"
            if sl.option_count else "New run")

    def focus_main(self) -> None:
        self.query_one("#run-requests", SelectionList).focus()

    def reload(self) -> None:
        store = self.services.ctx.store
        choices = data.requests_in(store, (workflow.HUMAN_REVIEWED,))
        sl = self.query_one("#run-requests", SelectionList)
        before = set(sl.selected)
        known = {sl.get_option_at_index(i).value for i in range(sl.option_count)}
        cursor = sl.highlighted
        sl.clear_options()
        for rid, subject, facts in choices:
            # new requests start selected: the usual run takes every reviewed request
            picked = rid in before or rid not in known
            sl.add_option((f"{rid} {subject} ({facts})", rid, picked))
        if choices:
            # clearing drops the cursor; without one, space toggles nothing
            sl.highlighted = min(cursor or 0, len(choices) - 1)
        sl.display = bool(choices)
        self.query_one("#run-none", Static).display = not choices
        self._count()
        self.show_settings()
        self._show_live(refill_runs=True)

    def _fill_runs(self) -> None:
        refill(self.query_one("#runs-table", DataTable), [
            (r.run_id, (r.run_id, r.method, state_text(r.state), str(len(r.request_ids)),
                        r.created_at))
            for r in data.runs(self.services.ctx.store)])

    def _show_live(self, refill_runs: bool = False) -> None:
        live = self.services.live
        self.query_one(RunMonitor).show(live)
        # a run's stored state moves as its stages pass (queued, running, ...): the list
        # follows it on each new stage, not on every step
        stage = (live.run_id, live.last.stage if live.last else None, live.outcome) \
            if live else None
        if refill_runs or stage != self._live_stage:
            self._live_stage = stage
            self._fill_runs()

    # -- actions --------------------------------------------------------------------------------

    def settings(self) -> RunSettings:
        """RunSettings from the form: empty fields keep the deployment's values."""
        method = self.query_one("#run-method", Select).value
        train: dict[str, Any] = {}
        epochs = self.query_one("#run-epochs", Input).value.strip()
        lr = self.query_one("#run-lr", Input).value.strip()
        if epochs:
            if not epochs.isdigit() or int(epochs) < 1:
                raise OperatorError("epochs must be a whole number of at least 1")
            train["epochs"] = int(epochs)
        if lr:
            try:
                value = float(lr)
            except ValueError:
                raise OperatorError(f"lr {lr!r} is not a number (e.g. 1e-4)") from None
            if not value > 0:
                raise OperatorError("lr must be above 0")
            train["lr"] = value
        return RunSettings(method=str(method), train=train)

    @guarded
    def action_launch(self) -> None:
        sl = self.query_one("#run-requests", SelectionList)
        ids = [v for v in sl.selected if v]
        if not ids:
            self.notify("Select at least one request in human_reviewed (space).",
                        severity="warning")
            return
        if self.services.launch_run(ids, self.settings()):
            self.notify(f"Launching a run on {len(ids)} request(s)…", timeout=3)
            self._show_live()

    def action_cancel_run(self) -> None:
        if self.services.cancel_run():
            self.notify("Stopping the run at its next step; it stays resumable.")
        else:
            self.notify("No run in progress.", severity="warning")

    @guarded
    def action_resume(self) -> None:
        run_id = selected_key(self.query_one("#runs-table", DataTable))
        run = next((r for r in data.runs(self.services.ctx.store) if r.run_id == run_id), None)
        if run is None:
            self.notify("No run to resume: the list of runs below is empty.",
                        severity="warning")
            return
        live = self.services.live
        if run.state not in RESUMABLE or (live and live.running
                                                 and live.run_id == run_id):
            self.notify(f"Run {run_id} is {run.state}: nothing to resume.", severity="warning")
            return
        if self.services.launch_run(None, None, resume_run_id=run_id):
            self.notify(f"Resuming run {run_id}…", timeout=3)

    def action_open_audit(self) -> None:
        run_id = selected_key(self.query_one("#runs-table", DataTable))
        if run_id:
            self.post_message(OpenAudit(run_id))
        else:
            self.notify("No run yet: launch one with l.", severity="warning")

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.post_message(OpenAudit(str(event.row_key.value)))

    def action_focus_settings(self) -> None:
        self.query_one("#run-method", Select).focus()


