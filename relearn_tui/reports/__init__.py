"""Compliance reports (docs/design.md §6): Markdown, self-contained HTML and JSON, per request
and per run. They carry pseudonyms, categories and hashes, never a private value."""

from relearn_tui.reports.build import (
    REPORT_FORMATS,
    ReportError,
    export_request_report,
    export_run_report,
    render,
    request_report,
    run_report,
)

__all__ = ["REPORT_FORMATS", "ReportError", "export_request_report", "export_run_report", "render",
           "request_report", "run_report"]
