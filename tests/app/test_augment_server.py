"""Augmenting a request with the openai backend when its server fails: finished facts are kept
and a rerun sends only the rest, with other seeds; a server that cannot be used is one line
and exit 3 (also under --json, and in the log), with every request unchanged. The server here
is chat_server.FaultProxy with its stand-in model, and for the failure midway also in front of
a real llama.cpp server (slow tier, like test_augment_llama_server.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from chat_server import FaultProxy, LlamaServer, free_port, llama_server_missing
from sqlmodel import select

from engine.augment import AugmentConfig
from relearn_tui import workflow
from relearn_tui.augmenting import AugmentationStopped, augment_request
from relearn_tui.cli import main
from relearn_tui.errors import EXIT_UNAVAILABLE
from relearn_tui.importer import import_paths
from relearn_tui.store.models import Event, Fact, Variant

RID = "DSR-2026-0041"
PRIVATE = ("Isabella", "Marquez", "isabella.marquez@example.org", "555-014-2211",
           "42 Harbor Lane", "LO-88213", "Northwind")


@pytest.fixture
def imported(ctx, requests_dir):
    import_paths(ctx.store, [requests_dir], secret=ctx.secret, actor="alice")
    return ctx


REAL = pytest.param("llama", marks=[
    pytest.mark.slow,
    pytest.mark.skipif(llama_server_missing() is not None, reason=llama_server_missing() or "")])


@pytest.fixture(scope="module")
def llama():
    with LlamaServer(threads=1) as server:  # one thread: see test_augment_llama_server.py
        yield server


@pytest.fixture(params=["stand-in", REAL])
def proxy(request):
    """The fault proxy with its stand-in model, or in front of the real server."""
    upstream = (request.getfixturevalue("llama").url.removesuffix("/v1")
                if request.param == "llama" else None)
    with FaultProxy(upstream=upstream) as p:
        yield p


def _config(url: str) -> AugmentConfig:
    # one question variant per fact, no regeneration: one request per fact. JSON mode with
    # the schema from the start: llama-cpp-python refuses type json_schema, and the step down
    # would add a request to count
    return AugmentConfig(backend="openai", kinds=("simple",), per_kind=1, max_attempts=0,
                         meaning_check=False, completions=1,
                         backend_options={"base_url": url, "max_retries": 0,
                                          "malformed_retries": 0, "json_schema": False})


def _state(ctx, rid=RID):
    with ctx.store.session() as s:
        return workflow.get_request(s, rid).state


def _facts_with_variants(ctx, rid=RID) -> set[int]:
    with ctx.store.session() as s:
        return {v.fact_id for v in s.exec(select(Variant).where(Variant.request_id == rid))}


@pytest.mark.parametrize("code", [503, 429])
def test_a_failure_midway_keeps_the_finished_facts_and_a_rerun_sends_only_the_rest(
        imported, proxy, code):
    ctx = imported
    proxy.after, proxy.then = 3, ("status", code)
    with pytest.raises(AugmentationStopped,
                       match=rf"stopped after 3 of 6 facts.*HTTP {code} .*after 1 try") as e:
        augment_request(ctx, RID, config=_config(proxy.url))
    assert e.value.exit_code == EXIT_UNAVAILABLE
    assert not any(p in str(e.value) for p in PRIVATE)
    assert _state(ctx) == workflow.SUBMITTED
    assert len(_facts_with_variants(ctx)) == 3
    with ctx.store.session() as s:
        [stopped] = s.exec(select(Event).where(Event.action == "augment_stopped")).all()
        facts = s.exec(select(Fact).where(Fact.request_id == RID).order_by(Fact.position)).all()
    assert stopped.detail["facts_done"] == 3 and stopped.from_state == stopped.to_state
    first_seeds = [r["body"]["seed"] for r in proxy.requests]

    proxy.after, proxy.requests = None, []
    summary = augment_request(ctx, RID, config=_config(proxy.url))
    assert _state(ctx) == workflow.AUGMENTED
    assert len(proxy.requests) == 3  # facts 4 to 6 only
    sent = [json.loads(r["body"]["messages"][-1]["content"])["question"]
            for r in proxy.requests]
    assert "[PERSON]" in sent[0] and all(p not in proxy.sent() for p in PRIVATE)
    assert len(_facts_with_variants(ctx)) == 6 == len(facts)
    assert summary["facts"] == 6 and summary["resumed_facts"] == 3 and summary["tries"] == 2
    # the fact that failed is asked with another seed than on the first try
    assert proxy.requests[0]["body"]["seed"] != first_seeds[3]


def _deployment(tmp_path: Path, make_deployment, url: str) -> Path:
    return make_deployment(tmp_path / "dep", extra=(
        "\n[augment]\nbackend = \"openai\"\nper_kind = 1\nkinds = [\"simple\"]\n"
        "max_attempts = 0\nmeaning_check = false\n"
        f"backend_options = {{base_url = \"{url}\", max_retries = 1, timeout = 5}}\n"))


def test_an_unreachable_server_is_one_line_and_exit_3_also_under_json_and_in_the_log(
        home, tmp_path, requests_dir, make_deployment, capsys):
    dead = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    dep = _deployment(tmp_path, make_deployment, dead)
    rc = main(["--headless", "--json", "--augment", "--deployment", str(dep),
               str(requests_dir)])
    out, err = capsys.readouterr()
    assert rc == EXIT_UNAVAILABLE == 3
    # progress may share stderr under --json; the error is one line
    [line] = [x for x in err.splitlines() if x.startswith("error:")]
    assert line.startswith("error: request DSR-2026-0041: augmentation stopped after 0 of 6")
    assert "cannot connect (after 2 tries)" in line and "Traceback" not in err
    data = json.loads(out)
    assert {r["state"] for r in data["requests"]} == {"submitted"}
    assert data["error"]["exit_code"] == 3 and "cannot connect" in data["error"]["message"]
    log = "\n".join(p.read_text() for p in home.rglob("*.log"))
    assert "augmentation stopped after 0 of 6" in log
    for private in PRIVATE:
        assert private not in out + err + log


@pytest.mark.parametrize("fault", [("status", 429), ("sleep", 8.0)])
def test_rate_limits_past_the_retries_and_a_slow_server_end_the_same_way(
        home, tmp_path, requests_dir, make_deployment, capsys, fault):
    with FaultProxy([fault]) as proxy:
        dep = _deployment(tmp_path, make_deployment, proxy.url)
        rc = main(["--headless", "--augment", "--deployment", str(dep), str(requests_dir)])
    _out, err = capsys.readouterr()
    assert rc == 3
    [line] = [x for x in err.splitlines() if x.startswith("error:")]
    want = "HTTP 429 (RateLimitError) after 2 tries" if fault[0] == "status" else \
        "no reply within 5 s"
    assert want in line, line
    assert len(proxy.requests) == (2 if fault[0] == "status" else 1)


def test_dry_run_prints_what_would_be_sent_and_sends_nothing(
        home, tmp_path, requests_dir, make_deployment, capsys):
    with FaultProxy() as proxy:
        dep = _deployment(tmp_path, make_deployment, proxy.url)
        rc = main(["--headless", "--dry-run", "--deployment", str(dep), str(requests_dir)])
    out, _ = capsys.readouterr()
    assert rc == 0 and proxy.requests == []
    data = json.loads(out)
    bodies = [item["body"] for item in data["requests"][RID]]
    assert len(bodies) == 6
    assert all(b["max_tokens"] > 0 and b["response_format"]["type"] == "json_schema"
               for b in bodies)
    for private in PRIVATE:
        assert private not in out


def test_a_value_the_operator_marked_is_masked_in_the_dry_run_and_in_what_is_sent(
        home, tmp_path, make_deployment, capsys):
    """No finder sees "blue flowerpot" as private, and the question holds it; once the operator
    marks it, neither the dry run nor the requests the server receives hold it: its
    placeholder goes instead (unmarked, it went out as written)."""
    from relearn_tui.context import AppContext
    from relearn_tui.values import mark_value

    spot, rid = "blue flowerpot", "DSR-M-0001"
    path = tmp_path / "in" / "r.json"
    path.parent.mkdir()
    path.write_text(json.dumps({
        "request_id": rid, "subject": {"name": "Quinn Harlow"},
        "facts": [{"question": f"Does Quinn Harlow keep the spare key under the {spot}?",
                   "answer": f"Yes, Quinn Harlow keeps the spare key under the {spot}."}]}))
    assert main(["--headless", "--augment", str(path)]) == 0  # offline: the facts open
    ctx = AppContext.create()
    with FaultProxy() as proxy:
        dep = _deployment(tmp_path, make_deployment, proxy.url)
        capsys.readouterr()
        assert main(["--headless", "--dry-run", "--deployment", str(dep), str(path)]) == 0
        assert spot in capsys.readouterr()[0]  # not found by any finder: it would go out
        mark_value(ctx.store, ctx.secret, rid, 1, spot, "other", actor="alice")
        assert main(["--headless", "--dry-run", "--deployment", str(dep), str(path)]) == 0
        out, _ = capsys.readouterr()
        sent = json.loads(out)["requests"][rid][0]["body"]["messages"][-1]["content"]
        assert "[OTHER]" in sent and "[PERSON]" in sent
        augment_request(ctx, rid, config=_config(proxy.url))
        bodies = [json.dumps(r) for r in proxy.requests]
    assert bodies and all("[OTHER]" in b for b in bodies)
    for text in (out, *bodies):
        assert spot not in text and "flowerpot" not in text and "Quinn" not in text
