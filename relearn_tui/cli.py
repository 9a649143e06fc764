"""The ``relearn-tui`` command: the TUI by default, ``--headless`` for batches, and a few
subcommands (``log verify``, ``request deny|cancel|extend``, ``fact`` (a fact's private values),
``report``).

Textual is imported only when the TUI starts, so the headless path works without it.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Sequence

from engine.augment.backends import BACKENDS
from engine.augment.pipeline import AugmentConfig
from engine.pii import VALUE_CATEGORIES
from engine.train.config import METHOD_NAMES, TrainConfig
from relearn_tui import headless
from relearn_tui.context import AppContext
from relearn_tui.errors import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    OperatorError,
    as_operator_error,
    exit_code_for,
    report_unexpected,
)
from relearn_tui.reports import REPORT_FORMATS
from relearn_tui.text import printable

SUBCOMMANDS = ("log", "request", "fact", "report")


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", metavar="URL",
                        help="SQLAlchemy database URL (default: SQLite in RELEARN_HOME)")
    parser.add_argument("--operator", metavar="NAME",
                        help="who is acting, recorded in the event log (default: $USER)")


def main_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="relearn-tui",
        description="Make a fine-tuned LLM forget a data subject, prove it, file the evidence.",
        epilog="Subcommands: 'relearn-tui log verify|head|show', 'relearn-tui request "
               "deny|cancel|extend', 'relearn-tui fact show|mark-value|unmark-value|no-value', "
               "'relearn-tui report'. "
               "Exit codes: 0 ok, 1 some request failed, 2 usage or input error (nothing "
               "changed), 3 the database is busy or unreachable, the run is executing in another "
               "process, or the augmentation server "
               "cannot be used (requests unchanged, finished facts kept; run the same command "
               "again), "
               "4 an unexpected error (a bug; details in the log), 130 interrupted.",
    )
    _common(p)
    p.add_argument("--headless", action="store_true", help="run without the TUI")
    p.add_argument("--json", action="store_true", help="print the result as JSON (headless)")
    p.add_argument("--subject", metavar="NAME",
                   help="data subject for files that are bare question/answer lists")
    p.add_argument("--augment", action="store_true",
                   help="also augment new requests, then stop at review")
    p.add_argument("--dry-run", action="store_true",
                   help="with --headless: import, then print as JSON exactly what augmenting "
                        "would send to the backend's server; send nothing")
    p.add_argument("--run", action="store_true",
                   help="the whole pipeline: augment, (review), train, audit, report")
    p.add_argument("--auto-approve", action="store_true",
                   help="approve unflagged variants under a standing policy (implies --run)")
    p.add_argument("--deployment", metavar="FILE",
                   help="deployment.toml (default: the one beside the request files)")
    p.add_argument("--model", metavar="PATH", help="the deployed model to unlearn")
    p.add_argument("--base-model", metavar="PATH",
                   help="base model the deployed model is built from (default: smollm2; "
                        "gemma3-270m after `make gemma`)")
    p.add_argument("--corpus", metavar="FILE", help="the deployed model's fine-tuning corpus")
    p.add_argument("--method", choices=METHOD_NAMES,
                   help=f"unlearning method (default: {TrainConfig().method})")
    p.add_argument("--backend", choices=BACKENDS,
                   help=f"augmentation backend (default: {AugmentConfig().backend})")
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
    verify.add_argument("--head", metavar="N:HASH",
                        help="a head recorded earlier with 'log head': it must still be in the "
                             "chain (catches deleted newest events and a wiped log)")
    head = log_sub.add_parser("head", help="print N:HASH (events so far, newest hash) to keep "
                                           "outside the database for 'log verify --head'")
    _common(head)
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
    ext.add_argument("--late", action="store_true",
                     help="extend although the deadline has passed (a recorded override)")
    fact = sub.add_parser("fact", help="a fact's private values, as the reviewer corrects them")
    fact_sub = fact.add_subparsers(dest="cmd", required=True)
    fshow = fact_sub.add_parser("show", help="each fact's private values (categories; values "
                                             "with --reveal)")
    mark = fact_sub.add_parser("mark-value", help="mark a piece of a fact's answer as private "
                                                  "(protected and audited like a detected one)")
    unmark = fact_sub.add_parser("unmark-value", help="remove a wrong detection (with a reason)")
    none = fact_sub.add_parser("no-value", help="record why a fact holds no private value")
    for c in (fshow, mark, unmark, none):
        _common(c)
        c.add_argument("request_id")
    fshow.add_argument("--reveal", action="store_true", help="print the values themselves")
    for c in (mark, unmark, none):
        c.add_argument("fact", type=int, metavar="FACT", help="the fact's number (1 = first)")
    mark.add_argument("--category", required=True,
                      help=f"what the value is: {', '.join(VALUE_CATEGORIES)}")
    mark.add_argument("--value", required=True,
                      help="the value as the answer writes it; '-' reads it from standard input "
                           "(keeps it out of the shell's history)")
    unmark.add_argument("value_no", type=int, metavar="VALUE",
                        help="the value's number in 'fact show'")
    for c in (unmark, none):
        c.add_argument("--reason", required=True)
    rep = sub.add_parser("report", help="export a request's or a run's compliance report")
    _common(rep)
    rep.add_argument("target", metavar="REQUEST_ID|RUN_ID")
    rep.add_argument("--format", choices=REPORT_FORMATS, default=REPORT_FORMATS[0])
    rep.add_argument("--out", metavar="PATH", help="where to write it ('-' for stdout)")
    return p


def _report(ctx: AppContext, args: argparse.Namespace) -> int:
    from pathlib import Path

    from relearn_tui.reports import (
        ReportError,
        export_request_report,
        export_run_report,
        render,
        request_report,
        run_report,
    )

    is_run = args.target.startswith("RUN-")
    if args.out == "-":
        if sys.stdout is None:  # started with standard output closed
            raise ReportError("--out -: standard output is closed")
        data = run_report(ctx, args.target) if is_run else request_report(ctx, args.target)
        text = render(data, args.format)
        try:
            sys.stdout.write(text)
            sys.stdout.flush()
        except BrokenPipeError:
            raise
        except (OSError, ValueError) as exc:  # ValueError: a closed stream
            _silence_stdout()
            raise ReportError("--out -: cannot write to standard output: "
                              f"{getattr(exc, 'strerror', None) or 'it is closed'}") from None
        return EXIT_OK
    export = export_run_report if is_run else export_request_report
    path = export(ctx, args.target, args.format, Path(args.out) if args.out else None)
    print(printable(str(path)))  # a path that is not UTF-8 cannot be printed as it is
    return EXIT_OK


def _run_sub(args: argparse.Namespace) -> int:
    from relearn_tui import operations, workflow
    from relearn_tui.store.models import Event

    ctx = AppContext.create(args.db, args.operator, on_wait=_say)
    if args.group == "report":
        return _report(ctx, args)
    if args.group == "log" and args.cmd == "verify":
        with ctx.store.read() as s:
            check = workflow.verify_chain(s, recorded_head=args.head)
        print(check.describe())
        return EXIT_OK if check.ok else EXIT_FAILED
    if args.group == "log" and args.cmd == "head":
        with ctx.store.read() as s:
            print(workflow.head_record(s))
        return EXIT_OK
    if args.group == "log" and args.cmd == "show":
        from sqlmodel import select

        with ctx.store.read() as s:
            q = select(Event).order_by(Event.id)
            if args.request_id:
                q = q.where(Event.request_id == args.request_id)
            for ev in s.exec(q).all():
                # escaped: an actor stored before names were checked may hold ANSI escapes
                print(printable(f"{ev.id:>6} {ev.at:%Y-%m-%d %H:%M:%S} "
                                f"{ev.request_id or '-':<16} {ev.actor:<12} {ev.action:<20} "
                                f"{ev.from_state or '-'} -> {ev.to_state or '-'} "
                                f"{ev.hash[:12]}"))
        return EXIT_OK
    if args.group == "fact":
        return _fact(ctx, args)
    if args.cmd == "deny":
        operations.deny(ctx.store, args.request_id, actor=ctx.operator, reason=args.reason)
    elif args.cmd == "cancel":
        operations.cancel(ctx.store, args.request_id, actor=ctx.operator, reason=args.reason)
    elif args.cmd == "extend":
        new = operations.extend_deadline(ctx.store, args.request_id, months=args.months,
                                         actor=ctx.operator, reason=args.reason,
                                         late=args.late)
        print(f"{args.request_id}: deadline now {new}")
    return EXIT_OK


def _fact(ctx: AppContext, args: argparse.Namespace) -> int:
    from relearn_tui import values

    rid = args.request_id
    if args.cmd == "show":
        for f in values.fact_values(ctx.store, rid):
            status = (f"{len(f.values)} value(s)" if f.values else
                      "no value (reason recorded)" if f.no_value_recorded else
                      "no value: mark one or record why (blocks review)")
            print(f"fact {f.number}: {status}")
            for i, (category, value, marked) in enumerate(f.values, 1):
                shown = printable(value) if args.reveal else "*" * min(len(value), 12)
                print(f"  {i}. {category}: {shown}{'  (marked by a reviewer)' if marked else ''}")
        return EXIT_OK
    if args.cmd == "mark-value":
        value = sys.stdin.readline().rstrip("\n") if args.value == "-" else args.value
        result = values.mark_value(ctx.store, ctx.secret, rid, args.fact, value, args.category,
                                   actor=ctx.operator)
        print(f"{rid}: fact {args.fact}: {args.category} marked; {result.flagged} variant(s) "
              f"hold it and are flagged ({result.revoked} approval(s) revoked)")
    elif args.cmd == "unmark-value":
        category = values.unmark_value(ctx.store, rid, args.fact, args.value_no,
                                       actor=ctx.operator, reason=args.reason)
        print(f"{rid}: fact {args.fact}: {category} value {args.value_no} removed")
    else:
        values.record_no_value(ctx.store, rid, args.fact, actor=ctx.operator, reason=args.reason)
        print(f"{rid}: fact {args.fact}: recorded why it holds no private value")
    return EXIT_OK


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _context(args: argparse.Namespace) -> AppContext:
    ctx = AppContext.create(args.db, args.operator, args.deployment, list(args.paths),
                            on_wait=_say,
                            model=args.model, base_model=args.base_model, corpus=args.corpus,
                            method=args.method, backend=args.backend)
    # load it now: a bad file is a usage error before any work
    ctx.remember_deployment()
    return ctx


def _main(argv: list[str]) -> int:
    if argv and argv[0] in SUBCOMMANDS:
        return _run_sub(sub_parser().parse_args(argv))
    args = main_parser().parse_args(argv)
    if args.headless:
        if not args.paths:
            raise OperatorError("--headless needs at least one request file or folder")
        return headless.run(_context(args), args.paths, subject=args.subject,
                            as_json=args.json, augment=args.augment, run=args.run,
                            dry_run=args.dry_run,
                            auto_approve=args.auto_approve)
    from relearn_tui.tui.app import run_app

    return run_app(_context(args), args.paths)


def _doing(argv: list[str]) -> str:
    """What was being done, for the log: the command's words, never its arguments (a file
    name or a reason can hold personal data)."""
    if argv and argv[0] in SUBCOMMANDS:
        words = [a for a in argv[:2] if a.isalpha()]
        return "relearn-tui " + " ".join(words)
    return "relearn-tui --headless" if "--headless" in argv else "relearn-tui"


def _silence_stdout() -> None:
    """Point standard output at /dev/null: what is still buffered for a closed pipe or a full
    device must not fail again, with a traceback, when Python flushes it at exit."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _print_error(message: str) -> None:
    with contextlib.suppress(Exception):  # stderr itself may be closed or broken
        print(f"error: {printable(message)}", file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """The command line's one error boundary: an :class:`OperatorError` (or a database that
    is busy or gone) is one line and its exit code; anything else is a bug, logged with its
    traceback scrubbed of SQL parameters and personal data, and shown as one short line."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        return _main(argv)
    except BrokenPipeError:  # e.g. piped into head: not an error of ours
        _silence_stdout()
        return EXIT_OK
    except KeyboardInterrupt:
        with contextlib.suppress(Exception):
            print("interrupted: everything done so far is stored; run the same command to "
                  "resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:
        known = as_operator_error(exc)
        _print_error(str(known) if known is not None else
                     report_unexpected(exc, doing=_doing(argv)))
        return exit_code_for(exc)


if __name__ == "__main__":
    sys.exit(main())
