"""The relearn-tui Textual application.

Long work (imports, augmentation, training, probing, exports) runs in thread workers that talk
to the interface only through thread-safe messages; one handler turns a failed worker into an
error dialog, so the interface neither freezes nor dies with a traceback.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TypeVar, cast

from textual import events
from textual.app import App
from textual.reactive import reactive
from textual.screen import ModalScreen, Screen
from textual.widget import AwaitMount
from textual.worker import Worker, WorkerState

from engine.progress import Cancelled, CancelToken, Progress
from relearn_tui.context import AppContext
from relearn_tui.tui.commands import ActionsProvider, RecordsProvider
from relearn_tui.tui.key_order import KeyGate
from relearn_tui.tui.keys import APP_BINDINGS, SCREENS, key_sections
from relearn_tui.tui.live import LiveRun
from relearn_tui.tui.messages import (
    DataChanged,
    JobProgress,
    OpenAudit,
    OpenRequest,
    OpenReview,
    RunProgress,
    RunStarted,
)
from relearn_tui.tui.screens.audit import AuditScreen
from relearn_tui.tui.screens.detail import RequestDetailScreen
from relearn_tui.tui.screens.help import HelpScreen
from relearn_tui.tui.screens.modals import ConfirmScreen, ErrorScreen
from relearn_tui.tui.screens.review import ReviewScreen

T = TypeVar("T")


@dataclass(frozen=True)
class TopLine:
    deployment: str = ""
    deployment_known: bool = False
    overdue: int = 0
    due_soon: int = 0

class RelearnApp(App[int]):
    """Requests, review, runs, audit, probe console and reports on one database."""

    TITLE = "relearn-tui"
    CSS_PATH = "app.tcss"
    COMMANDS = App.COMMANDS | {ActionsProvider, RecordsProvider}
    MODES = SCREENS
    BINDINGS = APP_BINDINGS
    ENABLE_COMMAND_PALETTE = True

    reveal: reactive[bool] = reactive(False)
    data_version: reactive[int] = reactive(0)
    status_tick: reactive[int] = reactive(0)

    def __init__(self, ctx: AppContext, paths: Sequence[str] = (), *,
                 today: Callable[[], date] | None = None) -> None:
        super().__init__()
        self.ctx = ctx
        self.start_paths = list(paths)
        self._today = today
        self.live: LiveRun | None = None
        self.activity: dict[str, str] = {}
        self._jobs: dict[Worker, tuple[Callable[[Any], None] | None,
                                       Callable[[BaseException], None] | None]] = {}
        self._exit_when_run_stops = False
        self._job_tokens: set[CancelToken] = set()  # cancelled on quit
        self.top = TopLine()
        self.keys = KeyGate(self)

    async def on_event(self, event: events.Event) -> None:
        # Every key the terminal sends comes through here first: the gate hands it on once
        # the previous key's effects (a dialog opening, focus moving) are done.
        if isinstance(event, events.Key) and not event.is_forwarded and self.keys.hold(event):
            return
        await super().on_event(event)

    # -- shared state -------------------------------------------------------------------------

    def today(self) -> date:
        """The date deadlines are counted from (injectable so screenshots do not age)."""
        return self._today() if self._today else datetime.now(UTC).date()

    def data_changed(self) -> None:
        """Tell every screen that stored data changed; the visible one reloads now."""
        self.refresh_top()
        self.data_version += 1

    def _change_marker(self) -> object:
        from relearn_tui.tui import data

        try:
            return data.change_marker(self.ctx.store)
        except Exception:  # a busy or vanished database: the next poll tries again
            return None

    def _poll_changes(self) -> None:
        """Reload when another process (the headless command, a second TUI) changed the
        database; this one's own changes reload at once anyway."""
        marker = self._change_marker()
        if marker is not None and marker != self._marker:
            self._marker = marker
            self.data_changed()

    def refresh_top(self) -> None:
        """What the top line shows besides the sections: the deployment in use and the
        deadlines that need attention."""
        from relearn_tui import workflow
        from relearn_tui.tui import data
        from relearn_tui.tui.formatting import AMBER_DAYS, deployment_label

        try:
            dep = self.ctx.deployment
            label, known = deployment_label(dep), dep.source is not None
        except Exception:  # a bad deployment file: its error shows where it is used
            label, known = "deployment file has an error", False
        try:
            rows = [r for r in data.requests(self.ctx.store, self.today())
                    if r.state not in workflow.TERMINAL]
        except Exception:
            rows = []
        self.top = TopLine(label, known, sum(r.days_left < 0 for r in rows),
                           sum(0 <= r.days_left < AMBER_DAYS for r in rows))
        self._tick()

    def activity_line(self) -> str:
        parts = list(self.activity.values())
        if self.live is not None:
            parts.insert(0, self.live.summary())
        return " · ".join(parts)

    def _tick(self) -> None:
        self.status_tick += 1

    # -- startup --------------------------------------------------------------------------------

    POLL_S = 2.0  # how often the database is checked for another process's changes

    def on_mount(self) -> None:
        self._marker = self._change_marker()
        self.set_interval(self.POLL_S, self._poll_changes)
        self.refresh_top()
        self.switch_mode("requests")
        if self.start_paths:
            self.import_paths(self.start_paths)

    # -- jobs -----------------------------------------------------------------------------------

    def run_job(self, work: Callable[[], T], *, name: str,
                done: Callable[[T], None] | None = None,
                failed: Callable[[BaseException], None] | None = None,
                group: str = "jobs", exclusive: bool = False,
                label: str | None = None) -> Worker[T]:
        """Run ``work`` in a thread; ``done``/``failed`` are called back on the UI thread.
        ``label`` is what the top line shows while it runs.

        Every job is owned by the app, so one handler sees every outcome (and a screen that
        is closed meanwhile cannot swallow an error)."""
        if label:
            self.activity[name] = label
            self._tick()
        worker = self.run_worker(work, name=name, group=group, thread=True,
                                 exit_on_error=False, exclusive=exclusive)
        self._jobs[worker] = (done, failed)
        return worker

    def job_progress(self, job: str) -> Callable[[Progress], None]:
        """A progress callback for a worker thread: posts thread-safe messages."""

        def report(progress: Progress) -> None:
            self.post_message(JobProgress(job, progress))

        return report

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        handlers = self._jobs.get(event.worker)
        if handlers is None:
            return
        done, failed = handlers
        if event.state == WorkerState.SUCCESS:
            del self._jobs[event.worker]
            self._finish_activity(event.worker.name)
            if done is not None:
                self._call_guarded(done, event.worker.result, event.worker.name)
        elif event.state == WorkerState.ERROR:
            del self._jobs[event.worker]
            self._finish_activity(event.worker.name)
            error = event.worker.error or RuntimeError("the job failed without a message")
            if failed is not None:
                self._call_guarded(failed, error, event.worker.name)
            if not isinstance(error, Cancelled):
                self.report_error(error, doing=event.worker.name)
        elif event.state == WorkerState.CANCELLED:
            del self._jobs[event.worker]
            self._finish_activity(event.worker.name)

    def _call_guarded(self, callback: Callable[[Any], None], value: Any, name: str) -> None:
        try:
            callback(value)
        except Exception as exc:
            self.report_error(exc, doing=name)

    def on_job_progress(self, message: JobProgress) -> None:
        p = message.progress
        count = f" {p.done}/{p.total}" if p.total else ""
        self.activity[message.job] = f"{message.job}{count}"
        self._tick()

    def _finish_activity(self, name: str) -> None:
        if self.activity.pop(name, None) is not None:
            self._tick()

    # -- errors ---------------------------------------------------------------------------------

    def report_error(self, error: BaseException, *, doing: str = "") -> None:
        """Show an error dialog. An error written for the operator (the one root, or what
        :func:`errors.as_operator_error` recognises: a busy database, an engine input error)
        shows its message; anything else is a bug and also goes to the error log with a
        traceback."""
        from relearn_tui.errors import as_operator_error, scrub

        known = as_operator_error(error)
        message = str(known or error) or type(error).__name__
        if known is None:
            message = f"{type(error).__name__}: {scrub(message)}"
            where = self._log_traceback(error)
            if where:
                message += f"\n\nDetails were written to {where}"
        title = f"Could not {doing.replace('_', ' ').strip()}" if doing else "Error"
        self.push_screen(ErrorScreen(title, message))

    def attempt(self, doing: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
        """Call ``fn`` on the UI thread; an error becomes a dialog instead of a crash."""
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            self.report_error(exc, doing=doing)
            return None

    def _log_traceback(self, error: BaseException) -> Path | None:
        # Tracebacks carry code and exception messages, never local variables; the messages
        # are scrubbed of SQL parameters and anything that looks like a private value.
        from relearn_tui.errors import scrubbed_traceback

        try:
            path = self.ctx.home / "tui-errors.log"
            with path.open("a", encoding="utf-8") as fh:
                fh.write(f"--- {datetime.now(UTC):%Y-%m-%d %H:%M:%S}Z\n")
                fh.write(scrubbed_traceback(error))
            return path
        except OSError:
            return None

    # -- actions --------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # A dialog keeps the keys: switching sections under it would leave it behind.
        return not (action in ("go", "toggle_reveal", "help")
                    and isinstance(self.screen, ModalScreen))

    def action_go(self, mode: str) -> None:
        if mode == self.current_mode:
            # pressing the section's number again leaves a pushed screen (a request's detail)
            while len(self.screen_stack) > 1:
                self.pop_screen()
            return
        self.switch_mode(mode)

    def action_refresh(self) -> None:
        self.data_changed()

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(key_sections(type(self))))

    def action_toggle_reveal(self) -> None:
        # the navigation bar says which: a toast would hide part of the screen
        self.reveal = not self.reveal

    async def action_quit(self) -> None:
        if self.live is not None and self.live.running:
            self.push_screen(ConfirmScreen(
                "A run is in progress",
                f"Quit now? Run {self.live.run_id or ''} stops at its next step and keeps its "
                "checkpoint: resume it later from the Runs screen (u) or by launching it "
                "again.",
                yes="Stop and quit",
            ), self._quit_confirmed)
            return
        self._stop_jobs()
        self.exit(0)

    def _stop_jobs(self) -> None:
        """Ask background jobs that can stop early to do so, so quitting does not wait for
        them (the process cannot end while a worker thread still runs)."""
        for token in list(self._job_tokens):
            token.cancel()

    def _quit_confirmed(self, yes: bool | None) -> None:
        if not yes or self.live is None:
            return
        if not self.live.running:
            self.exit(0)
            return
        self._exit_when_run_stops = True
        self._stop_jobs()
        self.live.stop()
        self._tick()
        self.notify("Stopping the run at its next step…", timeout=10)

    def on_open_request(self, message: OpenRequest) -> None:
        self.open_request(message.request_id)

    def on_open_review(self, message: OpenReview) -> None:
        self.open_review(message.request_id)

    def on_open_audit(self, message: OpenAudit) -> None:
        self.open_audit(message.run_id)

    def open_request(self, request_id: str) -> AwaitMount:
        """Push the request's detail; await the result to act on the mounted screen."""
        return cast(AwaitMount, self.push_screen(RequestDetailScreen(request_id)))

    def _section_base(self, mode: str) -> Screen:
        """Switch to a section and return its base screen (leaving any pushed detail)."""
        self.action_go(mode)
        while len(self.screen_stack) > 1 and not isinstance(self.screen, ModalScreen):
            self.pop_screen()
        return self.screen

    def open_review(self, request_id: str) -> None:
        screen = self._section_base("review")
        if isinstance(screen, ReviewScreen):
            screen.select_request(request_id)

    def open_audit(self, run_id: str) -> None:
        screen = self._section_base("audit")
        if isinstance(screen, AuditScreen):
            screen.select_run(run_id)

    # -- work the screens start -------------------------------------------------------------------

    def import_paths(self, paths: Sequence[str], subject: str | None = None) -> None:
        from relearn_tui.importer import import_paths

        ctx = self.ctx

        def work():
            return import_paths(ctx.store, list(paths), secret=ctx.secret, actor=ctx.operator,
                                subject=subject)

        def done(report) -> None:
            self.data_changed()
            self.notify(f"{len(report.created)} imported, {len(report.unchanged)} already "
                        f"stored ({report.files} file(s))", title="Import")
            self.offer_deployment(paths)

        self.run_job(work, name="import", done=done, label="importing…")

    def offer_deployment(self, paths: Sequence[str]) -> None:
        """A deployment.toml beside imported requests describes the model they are about:
        with none in use it is taken (and said so); another one in use is switched only
        when the operator says yes."""
        from relearn_tui.context import find_deployment

        found = find_deployment(self.ctx.home, None, list(paths))
        if found is None:
            return
        current = self.ctx.deployment_path
        if current is not None and current.resolve() == found.resolve():
            return
        if self.live is not None and self.live.running:
            self.notify(f"{found} was not taken while a run is in progress.",
                        severity="warning", title="Deployment")
            return
        if current is None:
            self._use_deployment(found)
            return
        self.push_screen(ConfirmScreen(
            "Use the deployment beside these requests?",
            f"The requests came with {found}. In use now: {current}. Runs and the Probe "
            "console use the deployment in use; runs already created keep their own.",
            yes="Use it"), lambda yes: yes and self._use_deployment(found))

    def _use_deployment(self, path: Path) -> None:
        from relearn_tui.tui.formatting import model_label

        dep = self.attempt("use the deployment", self.ctx.use_deployment, path)
        if dep is None:
            return
        self.data_changed()
        self.notify(f"{dep.name} ({path}) now in use: model {model_label(dep)}.",
                    title="Deployment")

    def augment(self, request_ids: Sequence[str]) -> None:
        """Generate and verify variants for each request, one after the other."""
        ctx = self.ctx
        ids = list(request_ids)
        progress = self.job_progress("augment")
        token = CancelToken()
        self._job_tokens.add(token)

        def work() -> list[tuple[str, dict]]:
            from relearn_tui import pipeline

            try:
                return pipeline.augment_batch(ctx, ids, progress=progress, cancel=token,
                                              each=lambda *_: self.post_message(DataChanged()))
            finally:
                self._job_tokens.discard(token)

        def done(results: list[tuple[str, dict]]) -> None:
            self.data_changed()
            for rid, summary in results:
                self.notify(f"{rid}: {summary.get('items', 0)} items "
                            f"({summary.get('held_out', 0)} held out as probes), "
                            f"{summary.get('flagged', 0)} flagged. Press 2 to review.",
                            title="Augmented")

        self.run_job(work, name="augment", done=done, failed=lambda _: self.data_changed(),
                     label="augmenting…")

    # -- the unlearning run ---------------------------------------------------------------------

    def launch_run(self, request_ids: Sequence[str] | None, settings: Any,
                   resume_run_id: str | None = None) -> bool:
        """Create a run for ``request_ids`` (or resume ``resume_run_id``) and execute it in a
        thread. Returns False when another run is still in progress."""
        if self.live is not None and self.live.running:
            self.notify("A run is already in progress.", severity="warning")
            return False
        live = self.live = LiveRun(run_id=resume_run_id)
        ctx = self.ctx
        ids = list(request_ids or [])

        def progress(p: Progress) -> None:
            self.post_message(RunProgress(live.run_id or "", p))

        def work():
            from relearn_tui import pipeline, runs

            run_id = resume_run_id
            if run_id is None:
                # the same rule as the headless batch: an unfinished run over these requests
                # is resumed (with its own settings) rather than a second one started
                choice = pipeline.run_to_execute(ctx, ids, settings)
                if choice is None:
                    raise runs.RunError("a run needs at least one request in human_reviewed")
                run_id = choice.run_id
                if choice.resumed:
                    self.notify(f"Resuming unfinished run {run_id} over these requests, "
                                "with its own settings.")  # notify is thread-safe
            live.run_id = run_id  # read by the UI thread only after the message below
            self.post_message(RunStarted(run_id))
            return pipeline.execute(ctx, run_id, progress=progress, cancel=live.token)

        def done(run) -> None:
            live.outcome = getattr(run, "state", "completed")
            self._run_finished()
            self.notify(f"Run {live.run_id} {live.outcome}. Press 4 for the audit.",
                        title="Run finished")

        def failed(error: BaseException) -> None:
            live.outcome = "stopped" if isinstance(error, Cancelled) else "failed"
            self._run_finished()
            if isinstance(error, Cancelled):
                self.notify(f"Run {live.run_id} stopped; it can be resumed (u on Runs).",
                            title="Run stopped")

        self.run_job(work, name="run", done=done, failed=failed, group="run")
        self._tick()
        return True

    def cancel_run(self) -> bool:
        if self.live is None or not self.live.running:
            return False
        self.live.stop()
        self._tick()
        return True

    def _run_finished(self) -> None:
        self.data_changed()
        self._tick()
        if self._exit_when_run_stops:
            self.exit(0)

    def on_data_changed(self, _: DataChanged) -> None:
        self.data_changed()

    def on_run_started(self, message: RunStarted) -> None:
        self.data_changed()
        self._tick()

    def on_run_progress(self, message: RunProgress) -> None:
        if self.live is not None:
            self.live.update(message.progress)
            self._tick()


def quiet_libraries() -> None:
    """Progress bars of the ML libraries would only be captured under Textual; the run's
    own progress events are what the Runs screen shows."""
    for var in ("HF_HUB_DISABLE_PROGRESS_BARS", "HF_DATASETS_DISABLE_PROGRESS_BARS",
                "TRANSFORMERS_NO_ADVISORY_WARNINGS"):
        os.environ.setdefault(var, "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def run_app(ctx: AppContext, paths: list[str]) -> int:
    """Entry point of ``relearn-tui`` without --headless."""
    quiet_libraries()
    app = RelearnApp(ctx, paths)
    result = app.run()
    return int(result or 0)
