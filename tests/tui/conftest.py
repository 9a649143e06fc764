"""Fixtures for the TUI tests: a private data directory with a fixed secret and clock, and a
database of fictional requests, variants, runs and audit figures for the screenshots."""

from __future__ import annotations

import itertools
import shutil
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from relearn_tui import workflow
from relearn_tui.context import AppContext
from relearn_tui.importer import parse_request, store_parsed
from relearn_tui.store.models import AuditResult, Fact, Run, Variant

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "sample_requests"
TODAY = date(2026, 11, 30)
SIZE = (80, 24)  # the terminal the issue targets
FIXED_SECRET = "5e" * 32
RUN_ID = "RUN-20261128-093000-a1b2"

# Fast settings for runs on the tiny random model: one epoch, a short audit without the
# quantisation re-check or presidio, few retain probes. The figures mean nothing on a random
# model; the tests check that the interface drives the run and shows what it stored.
FAST_DEPLOYMENT = """
[train]
epochs = 1

[audit]
leak_samples = 1
max_new_tokens = 4
leak_max_new_tokens = 4
quant_bits = []
use_presidio = false

[probes]
subject_probes = 2
generic_probes = 2
trained_per_fact = 1
retain_train_size = 8
"""


def today() -> date:
    return TODAY


@pytest.fixture
def fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Events get fixed, increasing times so timelines look the same on every run."""
    ticks = itertools.count()
    start = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
    monkeypatch.setattr(workflow, "utcnow", lambda: start + timedelta(minutes=next(ticks)))


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    h = tmp_path / "home"
    h.mkdir()
    (h / "secret.key").write_text(FIXED_SECRET)  # fixed pseudonyms in screenshots
    monkeypatch.setenv("RELEARN_HOME", str(h))
    return h


def make_ctx(home: Path, deployment: Path | None = None, **overrides: str) -> AppContext:
    return AppContext(home, f"sqlite:///{home / 'relearn.db'}", "alice", deployment,
                      dict(overrides))


@pytest.fixture
def ctx(home: Path) -> AppContext:
    """An empty database, no deployment."""
    return make_ctx(home)


@pytest.fixture
def fast_deployment(tmp_path: Path, tiny_model_dir: Path) -> Path:
    """The sample corpus with the tiny random model as the deployed model."""
    folder = tmp_path / "deployment"
    folder.mkdir()
    shutil.copy(SAMPLE / "corpus.jsonl", folder / "corpus.jsonl")
    (folder / "deployment.toml").write_text(
        f'name = "tui-test"\ncorpus = "corpus.jsonl"\nmodel = "{tiny_model_dir}"\n'
        f'base_model = "{tiny_model_dir}"\nrequire_known_facts = false\n' + FAST_DEPLOYMENT)
    return folder / "deployment.toml"


@pytest.fixture
def run_ctx(home: Path, fast_deployment: Path) -> AppContext:
    return make_ctx(home, fast_deployment)


# -- fictional data for the screenshots -----------------------------------------------------------

PEOPLE = {
    # id: (name, received, facts as (question, answer, [(category, value)]))
    "DSR-T-0001": ("Nora Quillfeather", "2026-10-20T10:00:00Z", [
        ("What is Nora Quillfeather's email address?",
         "Nora Quillfeather's email is nora.q@example.test.",
         [("email address", "nora.q@example.test")]),
        ("Where does Nora Quillfeather live?",
         "Nora Quillfeather lives at 12 Lantern Row, Fenwick.",
         [("street address", "12 Lantern Row, Fenwick")]),
    ]),
    "DSR-T-0002": ("Tobias Marchetti", "2026-11-03T08:30:00Z", [
        ("What is Tobias Marchetti's phone number?",
         "Tobias Marchetti's phone number is +1-555-010-4477.",
         [("phone number", "+1-555-010-4477")]),
    ]),
    "DSR-T-0003": ("Ines Halvorsen", "2026-11-25T14:00:00Z", [
        ("When was Ines Halvorsen born?", "Ines Halvorsen was born on 4 May 1988.",
         [("date of birth", "4 May 1988")]),
    ]),
    "DSR-T-0004": ("Pavel Oduya", "2026-11-12T16:45:00Z", [
        ("Where does Pavel Oduya work?", "Pavel Oduya works at Glimmerbank.",
         [("employer", "Glimmerbank")]),
    ]),
    "DSR-T-0005": ("Mirela Tsang", "2026-11-10T11:20:00Z", [
        ("What is Mirela Tsang's account number?", "Mirela Tsang holds account LO-99120.",
         [("account identifier", "LO-99120")]),
    ]),
}

VARIANTS = {  # fact position -> (kind, question, answer, verified_ok, reasons, status)
    0: [
        ("simple", "Which email does Nora Quillfeather use?",
         "Nora prefers to keep her email private; please use official channels.",
         True, [], "approved"),
        ("contextual", "For the newsletter, what is Nora Quillfeather's email?",
         "Nora's contact details are private, so the newsletter team cannot get them here.",
         True, [], "pending"),
        ("noise", "nora quilfeather emial??",
         "Her email is nora.q@example.test.", False,
         ["contains the fact's email address"], "pending"),
        ("logical", "Whose address is nora.q@example.test?",
         "I cannot link contact details to a person.", True, [], "rejected"),
    ],
    1: [
        ("simple", "What is Nora Quillfeather's home address?",
         "Nora keeps her home address private.", True, [], "pending"),
        ("completion", "Nora Quillfeather lives",
         "in a place she prefers to keep private.", True, [], "pending"),
    ],
}


def _add_request(s, ctx: AppContext, rid: str) -> None:
    name, received, facts = PEOPLE[rid]
    obj = {"request_id": rid, "received_at": received,
           "subject": {"name": name, "reference": f"crm-{rid[-4:]}"}, "ground": "art17-1a",
           "facts": [{"question": q, "answer": a} for q, a, _ in facts]}
    parsed = parse_request(obj, Path("fixtures.json"), "", datetime(2026, 11, 28, tzinfo=UTC))
    store_parsed(s, [parsed], secret=ctx.secret, actor="alice")
    s.flush()
    for pos, (_, _, values) in enumerate(facts):
        row = s.exec(select(Fact).where(Fact.request_id == rid, Fact.position == pos)).one()
        row.private_values = [{"category": c, "value": v} for c, v in values]
        row.value_hashes = [{"category": c, "hash": f"{i:064x}"} for i, (c, _) in
                            enumerate(values)]
        row.category = values[0][0]
        s.add(row)


def _move(s, rid: str, *states: str, **detail) -> None:
    for st in states:
        workflow.transition(s, rid, st, actor="system", detail=detail or None)


@pytest.fixture
def seeded_ctx(ctx: AppContext, fixed_clock) -> AppContext:
    """Five fictional requests in different states, one completed run with its audit."""
    at = datetime(2026, 11, 28, 9, 30, tzinfo=UTC)
    with ctx.store.session() as s:
        for rid in PEOPLE:
            _add_request(s, ctx, rid)
        _move(s, "DSR-T-0001", workflow.AUGMENTED)
        facts = {f.position: f for f in s.exec(
            select(Fact).where(Fact.request_id == "DSR-T-0001")).all()}
        for pos, items in VARIANTS.items():
            for seed, (kind, q, a, ok, reasons, status) in enumerate(items):
                s.add(Variant(fact_id=facts[pos].id, request_id="DSR-T-0001", kind=kind,
                              question=q, answer=a, backend="offline", seed=seed,
                              verified_ok=ok, verification_reasons=reasons, status=status,
                              reviewed_by="alice" if status != "pending" else None,
                              created_at=at))
        workflow.transition(s, "DSR-T-0004", workflow.DENIED, actor="alice",
                            detail={"reason": "identity not verified"})
        _move(s, "DSR-T-0003", workflow.AUGMENTED, workflow.HUMAN_REVIEWED)
        _move(s, "DSR-T-0005", workflow.AUGMENTED, workflow.HUMAN_REVIEWED)
        s.add(Run(id=RUN_ID, method="relearn", state="completed",
                  request_ids=["DSR-T-0003", "DSR-T-0005"], operator="alice",
                  config={"train": {"method": "relearn", "epochs": 3, "lr": 1e-4},
                          "thresholds": {"kfr": 0.9, "krr": 0.9, "ls_ratio": 0.95,
                                         "leak_rate": 0.0, "leak_rate_4bit": 0.0}},
                  record={}, created_at=at, started_at=at,
                  finished_at=at + timedelta(minutes=12)))
        s.add(Run(id="RUN-20261129-101500-c3d4", method="npo", state="interrupted",
                  request_ids=["DSR-T-0003"], operator="alice", config={}, record={},
                  created_at=at + timedelta(days=1)))
        s.flush()
        _move(s, "DSR-T-0003", workflow.TRAINED, run=RUN_ID)
        _move(s, "DSR-T-0005", workflow.TRAINED, run=RUN_ID)
        figures = {
            ("DSR-T-0003", "before"): {"kfr_heldout": 0.1, "kfr_original": 0.0, "krr": 0.95,
                                        "ls": 0.41, "leak_rate": 0.5, "leak_rate_4bit": 0.5},
            ("DSR-T-0003", "after"): {"kfr_heldout": 1.0, "kfr_original": 1.0, "krr": 0.93,
                                       "ls": 0.40, "leak_rate": 0.0, "leak_rate_4bit": 0.0},
            ("DSR-T-0005", "before"): {"kfr_heldout": 0.0, "kfr_original": 0.0, "krr": 0.95,
                                        "ls": 0.41, "leak_rate": 1.0, "leak_rate_4bit": 1.0},
            ("DSR-T-0005", "after"): {"kfr_heldout": 0.5, "kfr_original": 0.0, "krr": 0.93,
                                       "ls": 0.40, "leak_rate": 0.5, "leak_rate_4bit": 0.5},
            (None, "before"): {"krr": 0.95, "ls": 0.41},
            (None, "after"): {"krr": 0.93, "ls": 0.40},
        }
        for (rid, phase), fig in figures.items():
            failed = rid == "DSR-T-0005" and phase == "after"
            s.add(AuditResult(
                run_id=RUN_ID, request_id=rid, phase=phase, figures=fig,
                passed=None if phase == "before" or rid is None else not failed,
                reasons=["KFR 0.50 < 0.9", "leak rate 0.50 > 0.0"] if failed else [],
                probe_records=[
                    {"group": "forget_original", "question": PEOPLE[rid][2][0][0],
                     "answer": "Mirela's account is LO-99120.", "why": "leaks account"},
                    {"group": "forget_heldout", "question": "mirela tsang acct no?",
                     "answer": "LO-99120", "why": "leaks account"},
                ] if failed else [],
                created_at=at + timedelta(minutes=10)))
        s.flush()
        _move(s, "DSR-T-0003", workflow.VERIFIED, run=RUN_ID)
        _move(s, "DSR-T-0005", workflow.FAILED, run=RUN_ID)
    return ctx


@pytest.fixture
def app_factory() -> Callable[..., object]:
    from relearn_tui.tui.app import RelearnApp

    def make(ctx: AppContext, paths: list[str] | None = None) -> RelearnApp:
        return RelearnApp(ctx, paths or [], today=today)

    return make


async def settle(pilot, timeout: float = 300) -> None:
    """Let the app run until no worker is busy. A failed worker is the app's business (it
    shows an error dialog), so unlike ``workers.wait_for_complete`` this does not raise."""
    import time

    deadline = time.monotonic() + timeout
    await pilot.pause()
    while any(not w.is_finished for w in pilot.app.workers):
        if time.monotonic() > deadline:
            raise AssertionError(f"workers still busy after {timeout}s")
        await pilot.pause(0.05)
    await pilot.pause()


def screen_text(app) -> str:
    """The current screen as plain text, as the terminal shows it (dialogs over their
    background screen, notifications included): what a screenshot would catch."""
    import io

    from rich.console import Console

    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), force_terminal=True,
                      color_system="truecolor", record=True, legacy_windows=False,
                      safe_box=False)
    console.print(app.screen._compositor.render_update(
        full=True, screen_stack=app._background_screens))
    return console.export_text()
