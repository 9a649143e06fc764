"""Headless progress when the output is not a terminal: plain lines a log file can keep."""

from __future__ import annotations

import io

from rich.console import Console

from engine.progress import Progress as Event
from relearn_tui.headless import ProgressView, _bars


def _view(terminal: bool) -> tuple[ProgressView, io.StringIO]:
    out = io.StringIO()
    console = Console(file=out, force_terminal=terminal, width=120)
    return ProgressView(_bars(console)), out


def _train_events() -> list[Event]:
    return [Event("train", done, 6, epoch=1 + (done - 1) // 3 if done else 1, epochs=2,
                  losses={"relearn": 2.0 / (done + 1)}) for done in range(7)]


def test_a_log_file_gets_one_line_per_start_epoch_and_end():
    view, out = _view(terminal=False)
    assert view.lines
    for event in [Event("audit before", 0, 4), *[Event("audit before", i, 4) for i in (1, 2, 4)],
                  *_train_events()]:
        view(event)
    lines = [ln for ln in out.getvalue().splitlines() if ln.strip()]
    audit = [ln for ln in lines if ln.startswith("audit before:")]
    train = [ln for ln in lines if ln.startswith("train:")]
    assert len(audit) == 2 and audit[0].startswith("audit before: 0/4")
    assert "done in" in audit[-1] and "4/4" in audit[-1]
    # start of epoch 1, start of epoch 2, the end
    assert [ln.split()[1] for ln in train] == ["0/6", "4/6", "6/6"]
    assert "epoch 2/2" in train[-1] and "relearn" in train[-1]


def test_a_terminal_gets_bars_and_no_extra_lines():
    view, out = _view(terminal=True)
    assert not view.lines
    for event in _train_events():
        view(event)
    assert "train:" not in out.getvalue()


def test_each_step_of_a_stage_gets_its_own_lines():
    view, out = _view(terminal=False)
    for done in (0, 2, 4):
        view(Event("audit after", done, 4, "answers"))
    for done in (0, 20, 40):
        view(Event("audit after", done, 40, "leak probes"))
    lines = [ln for ln in out.getvalue().splitlines() if ln.startswith("audit after:")]
    assert len(lines) == 4
    assert "answers" in lines[1] and "done in" in lines[1]
    assert "leak probes" in lines[3] and "40/40 done in" in lines[3]


def test_a_log_file_gets_the_summary_table_at_full_width():
    from relearn_tui.headless import _console, requests_table
    from relearn_tui.views import RequestRow

    out = io.StringIO()
    row = RequestRow(request_id="DSR-2026-0041", subject="S-84621c811202", state="verified",
                     facts=6, received_at="2026-11-02", deadline="2026-12-02", days_left=12,
                     extension_months=0)
    figures = {"DSR-2026-0041": {"before": {"kfr_heldout": 0.78, "leak_rate_4bit": None},
                                 "after": {"kfr_heldout": 1.0, "leak_rate_4bit": 0.0}}}
    _console(out).print(requests_table([row], figures=figures))
    text = out.getvalue()
    # off a terminal Rich would give 80 columns and cut these cells to "DSR-…"
    assert "DSR-2026-0041" in text and "S-84621c811202" in text and "verified" in text
    assert "0.78 → 1.00" in text


def test_the_summary_shows_every_probe_family_the_worst_case_and_the_attacks():
    from relearn_tui.headless import _console, families_table
    from relearn_tui.views import RequestRow

    out = io.StringIO()
    row = RequestRow(request_id="DSR-2026-0041", subject="S-84621c811202", state="failed",
                     facts=6, received_at="2026-11-02", deadline="2026-12-02", days_left=12,
                     extension_months=0)
    fam = {"original": {"n": 6, "kfr": 0.0, "leak_rate": 1.0},
           "extraction": {"n": 20, "kfr": 0.2, "leak_rate": 0.9}}
    after = {"original": {"n": 6, "kfr": 1.0, "leak_rate": 0.0, "leak_rate_4bit": 0.0},
             "extraction": {"n": 20, "kfr": 0.85, "leak_rate": 0.05, "leak_rate_4bit": 0.1}}
    figures = {"DSR-2026-0041": {
        "before": {"families": fam, "kfr_worst": 0.0, "leak_rate_worst": 1.0, "mia_auc": 0.97,
                   "mia_pairs": 24},
        "after": {"families": after, "kfr_worst": 0.85, "leak_rate_worst": 0.05,
                  "leak_rate_4bit_worst": 0.1, "mia_auc": 0.5, "mia_pairs": 24,
                  "relearn_recovery": 0.25}}}
    _console(out).print(families_table([row], figures))
    lines = out.getvalue().splitlines()

    def line(label: str) -> str:
        return next(x for x in lines if f" {label} " in x)

    assert "0.20 → 0.85" in line("extraction") and "0.90 → 0.05" in line("extraction")
    assert "- → 0.10" in line("extraction")
    assert "0.00 → 0.85" in line("worst") and "1.00 → 0.05" in line("worst")
    assert "0.97 → 0.50" in line("membership AUC")
    assert "- → 0.25" in line("relearning attack")
