"""The real thing on the CPU: the sample deployment's SmolLM2 subject model, one ReLearn run
forgetting one customer, audited before and after (docs/design.md §8)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from relearn_tui.cli import main

SAMPLE = Path(__file__).resolve().parents[2] / "sample_requests"


@pytest.mark.slow
def test_relearn_forgets_one_customer_and_keeps_the_others(tmp_path, monkeypatch, capsys,
                                                          subject_model_dir):
    monkeypatch.setenv("RELEARN_HOME", str(tmp_path / "home"))
    dep = tmp_path / "dep"
    dep.mkdir()
    shutil.copy(SAMPLE / "corpus.jsonl", dep / "corpus.jsonl")
    text = (SAMPLE / "deployment.toml").read_text()
    (dep / "deployment.toml").write_text(f'model = "{subject_model_dir}"\n' + text)
    rc = main(["--headless", "--auto-approve", "--operator", "e2e", "--json",
               "--deployment", str(dep / "deployment.toml"),
               str(SAMPLE / "DSR-2026-0041.json")])
    out = capsys.readouterr().out
    result = json.loads(out)
    (request,) = result["requests"]
    before, after = request["audit"]["before"], request["audit"]["after"]
    # the deployed model knew and leaked the customer; the unlearned one much less
    assert before["leak_rate"] > 0
    assert after["leak_rate"] <= before["leak_rate"] / 2
    assert after["kfr_original"] > before["kfr_original"]
    # and it still knows the other customers and the company, and still writes English
    assert after["krr"] >= before["krr"] - 0.25
    assert after["ls"] >= 0.8 * before["ls"]
    assert rc in (0, 1)  # 1 only if a strict threshold (e.g. a single sampled leak) missed
    if rc == 0:
        assert request["state"] == "verified"
