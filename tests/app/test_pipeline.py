"""The main job end to end on a tiny random model: headless batch, reports, purge, resume
(issue 5). The real SmolLM2 scenario is in tests/e2e."""

from __future__ import annotations

import fcntl
import json
from pathlib import Path

import pytest
from sqlmodel import select

from engine.pii import contains_value, extract_private_values
from relearn_tui import workflow
from relearn_tui.cli import main
from relearn_tui.context import AppContext
from relearn_tui.store.models import Run

SAMPLE = Path(__file__).resolve().parents[2] / "sample_requests"

FAST = """
[train]
epochs = 1

[audit]
leak_samples = 2
max_new_tokens = 8
leak_max_new_tokens = 8
relearn_steps = 2

[probes]
subject_probes = 4
generic_probes = 4
trained_per_fact = 1
retain_train_size = 16
"""
PASS_ALL = """
[thresholds]
kfr = 0.0
krr = 0.0
ls_ratio = 0.0
leak_rate = 1.0
leak_rate_4bit = 1.0
kfr_independent = 0.0
kfr_extraction = 0.0
leak_rate_independent = 1.0
leak_rate_extraction = 1.0
leak_rate_4bit_worst = 1.0
relearn_recovery = 1.0
"""


def _private_values(request_files: list[Path]) -> dict[str, list[str]]:
    """Every private value of each sample request, read from the files themselves."""
    out: dict[str, list[str]] = {}
    for f in request_files:
        text = f.read_text()
        reqs = [json.loads(line) for line in text.splitlines() if line.strip()] \
            if f.suffix == ".jsonl" else [json.loads(text)]
        for r in reqs:
            name = r["subject"]["name"]
            values = [name, r["subject"].get("reference", "")]
            for fact in r["facts"]:
                values += [v.value for v in extract_private_values(
                    fact["question"], fact["answer"], name)]
            out[r["request_id"]] = [v for v in values if v]
    return out


def _scan(paths: list[Path], values: list[str]) -> list[str]:
    """Files that hold any of ``values``: text files modulo case, spacing and punctuation;
    binary files (the database) byte for byte, in the value's raw, lower-case and digits-only
    forms (the latter for phone numbers)."""
    hits = []
    for p in paths:
        data = p.read_bytes()
        binary = p.name.startswith("relearn.db")
        text = data.decode("utf-8", errors="replace")
        for v in values:
            digits = "".join(c for c in v if c.isdigit())
            forms = {v, v.lower()} | ({digits} if len(digits) >= 7 else set())
            found = (any(f.encode() in data or f.encode() in data.lower() for f in forms)
                     if binary else contains_value(text, v))
            if found:
                hits.append(f"{p.name}: a {len(v)}-character value")
    return hits


def _states(ctx: AppContext) -> dict[str, str]:
    from relearn_tui.store.models import Request

    with ctx.store.session() as s:
        return {r.id: r.state for r in s.exec(select(Request)).all()}


def test_full_pipeline_verifies_reports_and_purges(home, tmp_path, requests_dir,
                                                   tiny_subject_dir, capsys, make_deployment):
    dep = make_deployment(tmp_path / "dep", model=tiny_subject_dir, extra=FAST + PASS_ALL)
    rc = main(["--headless", "--auto-approve", "--operator", "ops", "--json",
               "--deployment", str(dep), str(requests_dir)])
    out, err = capsys.readouterr()
    assert rc == 0, err[-2000:]
    result = json.loads(out)
    assert {r["state"] for r in result["requests"]} == {"verified"}
    assert all(r["audit"]["after"] for r in result["requests"])
    ctx = AppContext.create(operator="ops", deployment=dep)
    reports = sorted((home / "reports").rglob("*.*"))
    for rid in ("DSR-2026-0041", "DSR-2026-0042", "DSR-2026-0043"):
        for fmt in ("md", "html", "json"):
            assert home / "reports" / rid / f"{rid}.{fmt}" in reports
        data = json.loads((home / "reports" / rid / f"{rid}.json").read_text())
        actions = [e["action"] for e in data["timeline"]]
        assert data["request"]["purged_at"] and "purged" in actions
        # the filed report was written after the purge, so it records it
        assert actions.index("purged") < len(actions) - 1
    with ctx.store.session() as s:
        run = s.exec(select(Run)).one()
        assert run.state == "completed" and run.adapter_sha256 and run.merged_sha256
        assert workflow.verify_chain(s).ok
    assert (home / "reports" / "runs" / f"{run.id}.html").exists()

    # the PII scan: reports, logs, the database file, and what the command printed
    private = [v for vs in _private_values(sorted(requests_dir.iterdir())).values() for v in vs]
    files = reports + sorted((home / "logs").glob("*")) + sorted(home.glob("relearn.db*"))
    transcript = tmp_path / "transcript.txt"
    transcript.write_text(out + err)
    assert _scan([*files, transcript], private) == []


def test_without_auto_approve_it_stops_at_review(home, tmp_path, requests_dir,
                                                 tiny_subject_dir, capsys, make_deployment):
    dep = make_deployment(tmp_path / "dep", model=tiny_subject_dir, extra=FAST)
    rc = main(["--headless", "--run", "--deployment", str(dep), str(requests_dir)])
    out = capsys.readouterr().out
    assert rc == 0
    assert "wait for review" in out and "variant(s) pending" in out
    ctx = AppContext.create(deployment=dep)
    assert set(_states(ctx).values()) == {"augmented"}


def _interrupt_training(monkeypatch) -> None:
    """The next run's training stops with Ctrl-C after its first step."""
    import engine.train

    original = engine.train.run_unlearning

    def interrupted(*args, progress, **kwargs):
        def relay(p):
            progress(p)
            if p.epoch >= 1 and p.done >= 1:
                raise KeyboardInterrupt
        return original(*args, progress=relay, **kwargs)

    monkeypatch.setattr(engine.train, "run_unlearning", interrupted)


def test_ctrl_c_mid_run_resumes_with_the_same_command(home, tmp_path, requests_dir,
                                                      tiny_subject_dir, capsys, monkeypatch,
                                                      make_deployment):
    from relearn_tui import runs

    dep = make_deployment(tmp_path / "dep", model=tiny_subject_dir,
                           extra=FAST.replace("epochs = 1", "epochs = 2") + PASS_ALL)
    real = runs.run_unlearning if hasattr(runs, "run_unlearning") else None
    import engine.train

    original = engine.train.run_unlearning
    _interrupt_training(monkeypatch)
    argv = ["--headless", "--auto-approve", "--deployment", str(dep), str(requests_dir)]
    assert main(argv) == 130
    ctx = AppContext.create(deployment=dep)
    with ctx.store.session() as s:
        assert s.exec(select(Run)).one().state == "interrupted"
    assert set(_states(ctx).values()) == {"human_reviewed"}
    monkeypatch.setattr(engine.train, "run_unlearning", original)
    assert real is None or real is original
    # a killed process leaves its run "running"; while another process holds the run's lock
    # (it really is executing) the run is not started a second time
    with ctx.store.session() as s:
        run = s.exec(select(Run)).one()
        run.state = "running"
        s.add(run)
    lock = open(home / "runs" / f".{run.id}.lock", "w")  # noqa: SIM115
    fcntl.flock(lock, fcntl.LOCK_EX)
    capsys.readouterr()
    try:
        assert main(argv) == 3  # busy, like a locked database: the same command, later
    finally:
        lock.close()
    assert "executing in another process" in capsys.readouterr().err
    assert set(_states(ctx).values()) == {"human_reviewed"}
    # its lock died with it: the same command resumes it
    assert main(argv) == 0
    with ctx.store.session() as s:
        runs_ = s.exec(select(Run)).all()
    assert len(runs_) == 1 and runs_[0].state == "completed"
    assert set(_states(ctx).values()) == {"verified"}


def test_missed_thresholds_fail_the_request_and_keep_its_data(home, tmp_path, requests_dir,
                                                              tiny_subject_dir, capsys,
                                                              make_deployment):
    strict = FAST + "\n[thresholds]\nkfr = 1.0\nkrr = 1.0\n"
    dep = make_deployment(tmp_path / "dep", model=tiny_subject_dir, extra=strict)
    f = requests_dir / "DSR-2026-0041.json"
    rc = main(["--headless", "--auto-approve", "--json", "--deployment", str(dep), str(f)])
    result = json.loads(capsys.readouterr().out)
    assert rc == 1
    assert result["requests"][0]["state"] == "failed"
    ctx = AppContext.create(deployment=dep)
    from relearn_tui.store.models import Event, Request

    with ctx.store.session() as s:
        assert s.get(Request, "DSR-2026-0041").subject_name  # not purged
        failed = s.exec(select(Event).where(Event.action == "failed")).one()
    assert failed.detail["reasons"]


@pytest.mark.parametrize("bad", ["[train]\nepochz = 3\n", "nonsense = 1\n", "[train\n"])
def test_a_bad_deployment_file_is_a_usage_error(home, tmp_path, requests_dir, capsys, bad):
    dep = tmp_path / "deployment.toml"
    dep.write_text(bad)
    rc = main(["--headless", "--run", "--deployment", str(dep), str(requests_dir)])
    err = capsys.readouterr().err
    assert rc == 2 and str(dep) in err and "Traceback" not in err


def test_sample_folder_is_found_with_its_deployment(home, capsys):
    assert main(["--headless", "--json", str(SAMPLE)]) == 0
    ctx = AppContext.create(paths=[str(SAMPLE)])
    assert ctx.deployment.name == "larkspur-support" and ctx.deployment.corpus


def test_a_resumed_run_keeps_the_settings_it_was_created_with(home, tmp_path, requests_dir,
                                                               tiny_subject_dir, capsys,
                                                               monkeypatch, make_deployment):
    """The deployment file edited between an interruption and the resume changes nothing of
    the run: it trains, audits, gates and reports with what it stored when it was created."""
    import engine.train

    created = FAST.replace("epochs = 1", "epochs = 2") + PASS_ALL
    dep = make_deployment(tmp_path / "dep", model=tiny_subject_dir, extra=created)
    original = engine.train.run_unlearning
    _interrupt_training(monkeypatch)
    argv = ["--headless", "--auto-approve", "--deployment", str(dep),
            str(requests_dir / "DSR-2026-0041.json")]
    assert main(argv) == 130
    monkeypatch.setattr(engine.train, "run_unlearning", original)
    # every setting the run stored, edited: these thresholds would fail the request
    dep.write_text(dep.read_text().replace(created, """
[train]
epochs = 1
lr = 0.5

[audit]
leak_samples = 1
max_new_tokens = 4

[probes]
subject_probes = 1
generic_probes = 1
trained_per_fact = 0

[thresholds]
kfr = 1.0
krr = 1.0
ls_ratio = 2.0
"""))
    assert "lr = 0.5" in dep.read_text()
    assert main(argv) == 0, capsys.readouterr().err[-2000:]
    ctx = AppContext.create(deployment=dep)
    assert _states(ctx) == {"DSR-2026-0041": "verified"}
    from relearn_tui.store.models import AuditResult

    with ctx.store.session() as s:
        run = s.exec(select(Run)).one()
        after = s.exec(select(AuditResult).where(AuditResult.phase == "after",
                                                 AuditResult.request_id == None)  # noqa: E711
                       ).one()
    assert run.state == "completed" and run.record["config"]["epochs"] == 2
    groups = after.figures["groups"]
    assert groups["retain_subjects"]["n"] == 4 and groups["retain_generic"]["n"] == 4
    assert groups["forget_trained"]["n"] > 0
    report = json.loads((home / "reports" / "runs" / f"{run.id}.json").read_text())["run"]
    assert report["thresholds"]["kfr"] == 0.0 and report["thresholds"]["ls_ratio"] == 0.0
    assert report["config"]["epochs"] == 2 and report["config"]["lr"] != 0.5
    assert report["audit_settings"]["leak_samples"] == 2
    assert report["probe_settings"]["subject_probes"] == 4
