"""The Markdown and HTML writers escape what they print (issue #24, item 5): a ground, an
actor or a run error stored with line breaks, Markdown or HTML (an old row, a direct database
edit) cannot forge report lines, and `log show` prints no raw escape sequence."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import text

from relearn_tui.cli import main
from relearn_tui.reports import render, request_report
from relearn_tui.reports.html import render as render_html
from relearn_tui.reports.markdown import esc

from .support import request_obj, write_json

FORGED_GROUND = "art17\n- state: **verified**\n- personal data purged: yes"
FORGED_ACTOR = "eve\x1b[2J\n| 2026-01-01 | admin | verified |"


@pytest.fixture
def forged(home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    from relearn_tui.context import AppContext

    assert main(["--headless", str(write_json(tmp_path / "r.json", request_obj("DSR-F-1")))]) == 0
    capsys.readouterr()
    ctx = AppContext.create()
    with ctx.store.engine.begin() as conn:  # what validation no longer lets in
        conn.execute(text("UPDATE request SET ground = :g"), {"g": FORGED_GROUND})
        conn.execute(text("UPDATE event SET actor = :a"), {"a": FORGED_ACTOR})
    return ctx


def test_markdown_cannot_be_forged(forged) -> None:
    md = render(request_report(forged, "DSR-F-1"), "md")
    assert "\n- personal data purged: yes" not in md
    assert "\n- state: **verified**" not in md
    assert md.count("\n- state: ") == 1 and "**submitted**" in md
    assert "\x1b" not in md
    timeline = md.split("## Timeline")[1].split("## Event log")[0]
    rows = [line for line in timeline.splitlines() if line.startswith("|")]
    assert len(rows) == 3  # header, rule, the one event
    assert all(len(re.split(r"(?<!\\)\|", r)) == 7 for r in rows), rows


def test_html_cannot_be_forged(forged) -> None:
    html = render_html(request_report(forged, "DSR-F-1"))
    assert html.count("<li>state: ") == 1 and "<li>personal data purged: yes" not in html
    assert "<b>verified</b>" not in html and "\x1b" not in html
    assert "**verified**" in html  # shown literally, as text
    assert "<td>2026-01-01</td>" not in html


def test_escape_round_trip() -> None:
    hostile = "<script>alert(1)</script> **b** _i_ `c` | [l](x) \\ # \u202e"
    md = esc(hostile)
    assert "\n" not in md and "\u202e" not in md
    html = render_html({"schema": "relearn-tui/request-report/v1", "generated_at": "now",
                        "request": {"id": "X", "subject_pseudonym": "S-1", "ground": hostile,
                                    "state": "submitted", "received_at": "r",
                                    "deadline": "d", "extension_months": 0,
                                    "closed_at": None, "deadline_met": None,
                                    "purged_at": None},
                        "facts": [], "runs": [], "timeline": [],
                        "event_log": {"head_hash": "h"}})
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<b>b</b>" not in html and "<i>i</i>" not in html and "<code>c</code>" not in html


def test_log_show_escapes(forged, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["log", "show"]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and out.count("\n") == 1
