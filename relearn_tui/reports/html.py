"""The self-contained HTML rendering: inline CSS and an inline SVG chart, no external asset."""

from __future__ import annotations

import re
from html import escape
from typing import Any

from relearn_tui.reports.figures import fmt, headline_rows
from relearn_tui.reports.markdown import render as render_markdown

_ESCAPED = re.compile(r"\\(.)")  # markdown.esc's backslash escapes
_SET_ASIDE = re.compile("\x00(\\d+)\x00")
_CELL = re.compile(r"(?<!\\)\|")  # a cell ends at a pipe that is not escaped

CSS = """
body{font:15px/1.5 system-ui,sans-serif;max-width:980px;margin:2em auto;padding:0 1em;color:#222}
h1{font-size:1.6em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.25em .6em}
th{background:#f4f4f4}code{font-size:.9em}.pass{color:#0a7a2f;font-weight:bold}
.fail{color:#b3261e;font-weight:bold}.chart{margin:1em 0}
"""


def chart(audit: dict[str, Any], title: str) -> str:
    """Before/after bars for each headline figure (all are shares in [0, 1])."""
    rows = [r for r in headline_rows(audit, {}) if isinstance(r["after"], int | float)
            or isinstance(r["before"], int | float)]
    if not rows:
        return ""
    bar, gap, left, width = 14, 14, 190, 360
    height = len(rows) * (2 * bar + gap) + 40
    parts = [f'<svg class="chart" role="img" aria-label="{escape(title)}" '
             f'xmlns="http://www.w3.org/2000/svg" width="{left + width + 80}" '
             f'height="{height}">', f"<title>{escape(title)}</title>"]
    y = 10
    for r in rows:
        parts.append(f'<text x="0" y="{y + bar + 4}" font-size="12">{escape(r["label"])}</text>')
        for phase, colour, dy in (("before", "#9aa5b1", 0), ("after", "#2f6fdb", bar)):
            value = r[phase]
            if not isinstance(value, int | float):
                continue
            w = max(0.0, min(1.0, float(value))) * width
            parts.append(f'<rect x="{left}" y="{y + dy}" width="{w:.1f}" height="{bar - 2}" '
                         f'fill="{colour}"><title>{phase}: {fmt(value)}</title></rect>')
            parts.append(f'<text x="{left + w + 4:.1f}" y="{y + dy + bar - 4}" '
                         f'font-size="11">{phase} {fmt(value)}</text>')
        y += 2 * bar + gap
    parts.append(f'<rect x="{left}" y="{y + 4}" width="10" height="10" fill="#9aa5b1"/>'
                 f'<text x="{left + 14}" y="{y + 13}" font-size="11">before</text>'
                 f'<rect x="{left + 70}" y="{y + 4}" width="10" height="10" fill="#2f6fdb"/>'
                 f'<text x="{left + 84}" y="{y + 13}" font-size="11">after</text>')
    parts.append("</svg>")
    return "".join(parts)


def _md_to_html(md: str) -> str:
    """The Markdown report's structure as HTML (headings, lists, tables, paragraphs): only the
    constructs our own renderer emits, so no Markdown library is needed."""
    out: list[str] = []
    table: list[list[str]] = []
    in_list = False

    def inline(text: str) -> str:
        # a backslash-escaped character (markdown.esc) is a literal one: it is set aside
        # before emphasis is looked for, and put back HTML-escaped
        literal: list[str] = []

        def set_aside(m: re.Match[str]) -> str:
            literal.append(m.group(1))
            return f"\x00{len(literal) - 1}\x00"

        text = escape(_ESCAPED.sub(set_aside, text))
        for mark, tag in (("**", "b"), ("`", "code"), ("_", "i")):
            pieces = text.split(mark)
            if len(pieces) > 2 and len(pieces) % 2 == 1:
                text = "".join(p if i % 2 == 0 else f"<{tag}>{p}</{tag}>"
                               for i, p in enumerate(pieces))
        text = text.replace("<b>PASS</b>", '<span class="pass">PASS</span>').replace(
            "<b>FAIL</b>", '<span class="fail">FAIL</span>')
        return _SET_ASIDE.sub(lambda m: escape(literal[int(m.group(1))]), text)

    def flush_table() -> None:
        if table:
            head, *body = [r for r in table if not all(set(c) <= {"-"} for c in r)]
            out.append("<table><tr>" + "".join(f"<th>{inline(c)}</th>" for c in head) + "</tr>"
                       + "".join("<tr>" + "".join(f"<td>{inline(c)}</td>" for c in row)
                                 + "</tr>" for row in body) + "</table>")
            table.clear()

    for line in md.splitlines():
        if line.startswith("|"):
            cells = _CELL.split(line.strip().removeprefix("|").removesuffix("|"))
            table.append([c.strip() for c in cells])
            continue
        flush_table()
        if line.startswith("- "):
            if not in_list:
                out.append("<ul>")
                in_list = True
            out.append(f"<li>{inline(line[2:])}</li>")
            continue
        if in_list:
            out.append("</ul>")
            in_list = False
        if line.startswith("#"):
            level = len(line) - len(line.lstrip("#"))
            out.append(f"<h{level}>{inline(line[level:].strip())}</h{level}>")
        elif line.strip():
            out.append(f"<p>{inline(line)}</p>")
    flush_table()
    if in_list:
        out.append("</ul>")
    return "\n".join(out)


def render(report: dict[str, Any]) -> str:
    if report["schema"].startswith("relearn-tui/run-report"):
        title = f"Unlearning run report {report['run']['id']}"
        charts = chart(report["audit"], "Whole run: before and after")
    else:
        title = f"Erasure report {report['request']['id']}"
        charts = "".join(chart(run["audit"], f"Run {run['id']}: before and after")
                         for run in report["runs"])
    body = _md_to_html(render_markdown(report))
    # the chart goes right after the first heading, where a reader looks first
    first_end = body.find("</h1>") + len("</h1>")
    body = body[:first_end] + charts + body[first_end:]
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{escape(title)}</title><style>{CSS}</style></head><body>\n{body}\n"
            "</body></html>\n")
