"""The batch runner behind ``relearn-tui --headless``: rich output, never Textual.

Exit codes: 0 everything went through, 1 some request failed verification or its run failed,
2 usage or input error (nothing was changed), 130 interrupted (resumable).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence

from rich.console import Console
from rich.table import Table

from relearn_tui.context import AppContext
from relearn_tui.importer import RequestFileError, import_paths
from relearn_tui.views import RequestRow, request_rows

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def requests_table(rows: Sequence[RequestRow], title: str = "Requests") -> Table:
    table = Table(title=title)
    for col, kw in (("request", {}), ("subject", {}), ("state", {}),
                    ("facts", {"justify": "right"}), ("days left", {"justify": "right"})):
        table.add_column(col, **kw)
    for r in rows:
        style = "red" if r.days_left < 0 else "yellow" if r.days_left < 7 else ""
        table.add_row(r.request_id, r.subject, r.state, str(r.facts),
                      f"[{style}]{r.days_left}[/]" if style else str(r.days_left))
    return table


def run(ctx: AppContext, paths: Sequence[str], *, subject: str | None = None,
        as_json: bool = False, out=None, err=None) -> int:
    out = out or sys.stdout
    console = Console(file=out, highlight=False)
    errors = Console(file=err or sys.stderr, highlight=False)
    try:
        report = import_paths(ctx.store, paths, secret=ctx.secret, actor=ctx.operator,
                              subject=subject)
    except RequestFileError as exc:
        errors.print(f"error: {exc}", markup=False, soft_wrap=True)
        return EXIT_USAGE
    ids = report.created + report.unchanged
    with ctx.store.session() as s:
        rows = request_rows(s, ids)
    failed = any(r.state == "failed" for r in rows)
    if as_json:
        json.dump({"imported": len(report.created), "unchanged": len(report.unchanged),
                   "requests": [r.to_dict() for r in rows]}, out, indent=2)
        out.write("\n")
    else:
        console.print(requests_table(rows))
        console.print(f"{len(report.created)} imported, {len(report.unchanged)} already stored")
    return EXIT_FAILED if failed else EXIT_OK
