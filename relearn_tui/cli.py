"""The ``relearn-tui`` command: the TUI by default, ``--headless`` for batches, and a few
subcommands (``log verify``, ``request deny|cancel|extend``, ``report``).

Textual is imported only when the TUI starts, so the headless path works without it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from relearn_tui import headless
from relearn_tui.context import AppContext

SUBCOMMANDS = ("log", "request")


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", metavar="URL",
                        help="SQLAlchemy database URL (default: SQLite in RELEARN_HOME)")
    parser.add_argument("--operator", metavar="NAME",
                        help="who is acting, recorded in the event log (default: $USER)")


def main_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="relearn-tui",
        description="Make a fine-tuned LLM forget a data subject, prove it, file the evidence.",
        epilog="Subcommands: 'relearn-tui log verify', 'relearn-tui request deny|cancel|extend'. "
               "Exit codes: 0 ok, 1 some request failed, 2 usage or input error, "
               "130 interrupted.",
    )
    _common(p)
    p.add_argument("--headless", action="store_true", help="run without the TUI")
    p.add_argument("--json", action="store_true", help="print the result as JSON (headless)")
    p.add_argument("--subject", metavar="NAME",
                   help="data subject for files that are bare question/answer lists")
    p.add_argument("paths", nargs="*", metavar="PATH",
                   help="request files or folders (*.json, *.jsonl)")
    return p


def sub_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="relearn-tui")
    sub = p.add_subparsers(dest="group", required=True)
    log = sub.add_parser("log", help="the hash-chained event log")
    log_sub = log.add_subparsers(dest="cmd", required=True)
    verify = log_sub.add_parser("verify", help="check every link; name the first broken event")
    _common(verify)
    show = log_sub.add_parser("show", help="print events (optionally of one request)")
    _common(show)
    show.add_argument("request_id", nargs="?")
    req = sub.add_parser("request", help="operator decisions on a request")
    req_sub = req.add_subparsers(dest="cmd", required=True)
    for name in ("deny", "cancel"):
        c = req_sub.add_parser(name)
        _common(c)
        c.add_argument("request_id")
        c.add_argument("--reason", required=True)
    ext = req_sub.add_parser("extend", help="extend the deadline (at most two months in all)")
    _common(ext)
    ext.add_argument("request_id")
    ext.add_argument("--months", type=int, default=1)
    ext.add_argument("--reason", required=True)
    return p


def _run_sub(args: argparse.Namespace) -> int:
    from relearn_tui import operations, workflow
    from relearn_tui.store.models import Event

    ctx = AppContext.create(args.db, args.operator)
    if args.group == "log" and args.cmd == "verify":
        with ctx.store.session() as s:
            check = workflow.verify_chain(s)
        print(check.describe())
        return headless.EXIT_OK if check.ok else headless.EXIT_FAILED
    if args.group == "log" and args.cmd == "show":
        from sqlmodel import select

        with ctx.store.session() as s:
            q = select(Event).order_by(Event.id)
            if args.request_id:
                q = q.where(Event.request_id == args.request_id)
            for ev in s.exec(q).all():
                print(f"{ev.id:>6} {ev.at:%Y-%m-%d %H:%M:%S} {ev.request_id or '-':<16} "
                      f"{ev.actor:<12} {ev.action:<20} {ev.from_state or '-'} -> "
                      f"{ev.to_state or '-'} {ev.hash[:12]}")
        return headless.EXIT_OK
    try:
        if args.cmd == "deny":
            operations.deny(ctx.store, args.request_id, actor=ctx.operator, reason=args.reason)
        elif args.cmd == "cancel":
            operations.cancel(ctx.store, args.request_id, actor=ctx.operator, reason=args.reason)
        elif args.cmd == "extend":
            new = operations.extend_deadline(ctx.store, args.request_id, months=args.months,
                                             actor=ctx.operator, reason=args.reason)
            print(f"{args.request_id}: deadline now {new}")
    except workflow.WorkflowError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return headless.EXIT_USAGE
    return headless.EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    from relearn_tui.store import StoreError

    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv and argv[0] in SUBCOMMANDS:
            return _run_sub(sub_parser().parse_args(argv))
        args = main_parser().parse_args(argv)
        if args.headless:
            if not args.paths:
                print("error: --headless needs at least one request file or folder",
                      file=sys.stderr)
                return headless.EXIT_USAGE
            ctx = AppContext.create(args.db, args.operator)
            return headless.run(ctx, args.paths, subject=args.subject, as_json=args.json)
        from relearn_tui.tui.app import run_app

        return run_app(AppContext.create(args.db, args.operator), args.paths)
    except StoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return headless.EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted: everything done so far is stored; run the same command to resume",
              file=sys.stderr)
        return headless.EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
