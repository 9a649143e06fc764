"""The openai backend's protocol through the real client: retries, formats, faults and what is
sent, against :class:`chat_server.FaultProxy` answering with a well-behaved stand-in model.
The same backend against a real server (llama-cpp-python serving SmolLM2) is in
test_augment_llama_server.py (slow tier)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import pytest
from augment_samples import request_facts
from chat_server import FaultProxy as Server

from engine.augment import AugmentConfig, AugmentError, augment_fact, augment_facts, make_backend
from engine.augment.base import BackendUnavailable, UnusableReply
from engine.augment.llm_format import mask, max_tokens, parse_variants
from engine.augment.pipeline import with_private_values
from engine.types import VARIANT_KINDS

FACT = with_private_values(request_facts()[0][0], use_presidio=False)  # the e-mail fact
EMAIL = "isabella.marquez@example.org"


@pytest.fixture
def serve(monkeypatch) -> Callable[[list[tuple]], Server]:
    monkeypatch.setenv("RELEARN_OPENAI_API_KEY", "sk-test-key")
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    servers: list[Server] = []

    def start(script):
        servers.append(Server(script).__enter__())
        return servers[-1]

    yield start
    for s in servers:
        s.__exit__()


def _backend(server: Server, **kw):
    return make_backend("openai", model="tiny-test-model", base_url=server.url, **kw)


def test_a_429_is_retried_and_the_variants_come_back_unmasked(serve):
    server = serve([("status", 429), ("pass",)])
    items = _backend(server, max_retries=2).variants(
        FACT, kinds=VARIANT_KINDS, per_kind=3, seed=0, attempt=0)
    assert len(server.requests) == 2
    assert len(items) == 12 and {k for k, _, _ in items} == set(VARIANT_KINDS)
    assert all(getattr(i, "backend", "") == "openai" for i in items)
    logical = [q for k, q, _ in items if k == "logical"]
    assert all(EMAIL in q for q in logical)  # the placeholder was put back locally
    for req in server.requests:
        assert req["path"] == "/v1/chat/completions"
        assert req["auth"] == "Bearer sk-test-key"
        assert req["body"]["model"] == "tiny-test-model"
        assert EMAIL not in json.dumps(req["body"])  # the private value never left


@pytest.mark.parametrize("content_type", ["application/json", "text/html"])
def test_a_garbage_body_is_asked_again(serve, content_type):
    server = serve([("garbage", content_type), ("pass",)])
    items = _backend(server, max_retries=0).variants(
        FACT, kinds=["simple"], per_kind=2, seed=0, attempt=0)
    assert len(server.requests) == 2 and len(items) == 2


def test_prose_instead_of_json_is_asked_again_then_refused_with_the_fact_id_only(serve):
    server = serve([("chat", "I'd be happy to help! Here are some ideas: rephrase it.")])
    with pytest.raises(AugmentError, match=r"fact DSR-2026-0041/0: no usable variants") as info:
        _backend(server, max_retries=0, malformed_retries=2).variants(
            FACT, kinds=["simple"], per_kind=2, seed=0, attempt=0)
    assert len(server.requests) == 3
    assert "Isabella" not in str(info.value) and EMAIL not in str(info.value)


def test_server_errors_give_up_after_the_client_retries(serve):
    server = serve([("status", 503)])
    with pytest.raises(AugmentError, match="HTTP 503"):
        _backend(server, max_retries=2).variants(
            FACT, kinds=["simple"], per_kind=1, seed=0, attempt=0)
    assert len(server.requests) == 3


def test_a_slow_server_times_out(serve):
    server = serve([("sleep", 3.0)])
    started = time.monotonic()
    with pytest.raises(AugmentError, match=r"no reply within 0\.3 s"):
        _backend(server, max_retries=0, timeout=0.3).variants(
            FACT, kinds=["simple"], per_kind=1, seed=0, attempt=0)
    assert time.monotonic() - started < 2.5


def test_augment_fact_with_the_openai_backend_verifies_every_answer(serve):
    server = serve([("pass",)])
    config = AugmentConfig(backend="openai", use_presidio=False, backend_options={
        "model": "tiny-test-model", "base_url": server.url, "max_retries": 0})
    variants = augment_fact(FACT, config)
    questions = [v for v in variants if v.kind != "completion"]
    assert len(questions) == 12
    assert all(v.backend == "openai" and v.verification.ok for v in questions)
    assert sum(v.held_out for v in variants) == 3


def test_an_answer_that_uses_the_placeholder_is_a_leak_and_is_regenerated(serve):
    leaky = json.dumps({"variants": [
        {"kind": "simple", "question": "What's Isabella's email?",
         "answer": "It is [EMAIL ADDRESS]."}]})
    server = serve([("chat", leaky), ("pass",)])
    config = AugmentConfig(backend="openai", use_presidio=False, kinds=("simple",), per_kind=1,
                           completions=0, held_out_share=0.0,
                           backend_options={"base_url": server.url, "max_retries": 0})
    [variant] = augment_fact(FACT, config)
    assert variant.verification.ok and variant.attempts == 2
    assert EMAIL not in variant.answer


def test_the_key_comes_from_the_environment_only(monkeypatch):
    monkeypatch.delenv("RELEARN_OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(AugmentError, match="OPENAI_API_KEY"):
        make_backend("openai")
    with pytest.raises(AugmentError, match="no option api_key") as info:
        make_backend("openai", api_key="sk-nope")
    assert "sk-nope" not in str(info.value)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-value")
    backend = make_backend("openai", model="m")
    assert "sk-secret-value" not in repr(backend)
    assert "sk-secret-value" not in json.dumps({k: str(v) for k, v in vars(backend).items()
                                                if not k.startswith("_")})


def test_parser_reads_the_shapes_models_produce():
    kinds = VARIANT_KINDS
    assert parse_variants('[{"kind": "simple", "question": "Q?", "answer": "A."}]', kinds) == [
        ("simple", "Q?", "A.")]
    by_kind = '{"reverse": [{"q": "Who?", "a": "Cannot say."}], "noisy": {"question": "q", ' \
              '"answer": "a"}}'
    assert parse_variants(by_kind, kinds) == [("logical", "Who?", "Cannot say."),
                                              ("noise", "q", "a")]
    fenced = 'Sure!\n```json\n{"variants": [{"type": "Context", "question": " Q ?", ' \
             '"answer": "A"}, {"kind": "simple", "question": ""}]}\n```\nHope it helps.'
    assert parse_variants(fenced, kinds) == [("contextual", "Q ?", "A")]
    for junk in (None, "", "no json here", '{"variants": "nope"}', "[1, 2, 3]", "{broken"):
        assert parse_variants(junk, kinds) == []
    assert parse_variants('[{"kind": "simple", "question": "Q", "answer": "A"}]',
                          ["logical"]) == []
    # the reply format's stand-ins, copied by a small model (SmolLM2 did), are not variants
    copied = '{"simple": [{"question": "<the new question>", "answer": "No."}]}'
    assert parse_variants(copied, kinds) == []


def test_masking_hides_every_value_and_unmasking_restores_it():
    fact = with_private_values(request_facts()[0][5], use_presidio=False)  # account id
    masked = mask(fact)
    for pv in fact.private_values:
        assert pv.value not in masked.question and pv.value not in masked.answer
    assert "Isabella" not in masked.question and "Marquez" not in masked.question
    assert "paper invoices" not in masked.answer  # the answer itself is never sent
    [(placeholder, value)] = [(p, v) for p, v in masked.placeholders.items()
                              if p != "[PERSON]"]
    assert masked.unmask(f"Who holds {placeholder.lower()}?") == f"Who holds {value}?"
    assert masked.unmask("Who holds [ ACCOUNT_IDENTIFIER ]?") == f"Who holds {value}?"
    assert masked.unmask("Is [PERSON] a customer?") == "Is Isabella Marquez a customer?"


def test_sensitive_topics_in_the_question_are_generalised():
    from engine.types import Fact

    fact = Fact("f1", "Ana Lind", "What is Ana Lind allergic to, and does her mother know?",
                "Ana is allergic to latex packaging; her mother is a nurse.")
    fact = with_private_values(fact, use_presidio=False)
    masked = mask(fact)
    for word in ("allergic", "mother", "Ana", "Lind", "latex", "nurse"):
        assert word not in masked.question + masked.answer
    assert "[HEALTH TOPIC]" in masked.question and "[FAMILY MEMBER]" in masked.question
    assert masked.unmask(masked.question) == fact.question


def test_requests_carry_max_tokens_and_the_json_schema_and_step_down_when_refused(serve):
    server = serve([("refuse_schema",)])
    backend = _backend(server, max_retries=0)
    items = backend.variants(FACT, kinds=["simple", "logical"], per_kind=2, seed=0, attempt=0)
    assert len(items) == 4
    first, second = (r["body"] for r in server.requests)
    assert first["max_tokens"] == second["max_tokens"] == max_tokens(["simple", "logical"], 2)
    schema = first["response_format"]["json_schema"]["schema"]
    assert schema["required"] == ["simple", "logical"]
    assert all(schema["properties"][k]["minItems"] == schema["properties"][k]["maxItems"] == 2
               for k in ("simple", "logical"))
    # llama-cpp-python's server refuses type json_schema: JSON mode with the schema beside it
    assert second["response_format"] == {"type": "json_object", "schema": schema}
    backend.variants(FACT, kinds=["simple", "logical"], per_kind=2, seed=0, attempt=1)
    assert server.requests[2]["body"]["response_format"]["type"] == "json_object"  # remembered


def test_nothing_private_is_sent(serve):
    server = serve([("pass",)])
    fact = with_private_values(request_facts()[0][4], use_presidio=False)  # job and employer
    _backend(server).variants(fact, kinds=["simple", "logical"], per_kind=1, seed=0, attempt=0)
    sent = server.sent()
    for private in ("Isabella", "Marquez", "logistics planner", "Northwind", fact.answer):
        assert private not in sent


def test_a_timeout_is_not_retried_so_requests_do_not_queue_behind_it(serve):
    server = serve([("sleep", 2.0)])
    with pytest.raises(BackendUnavailable, match=r"no reply within 0\.3 s for a reply of up to"):
        _backend(server, max_retries=3, timeout=0.3).variants(
            FACT, kinds=["simple"], per_kind=1, seed=0, attempt=0)
    assert len(server.requests) == 1


def test_an_empty_reply_is_asked_again_with_another_seed_then_unusable(serve):
    server = serve([("empty",)])
    with pytest.raises(UnusableReply, match="last: an empty reply"):
        _backend(server, max_retries=0, malformed_retries=2).variants(
            FACT, kinds=["simple"], per_kind=1, seed=0, attempt=0)
    seeds = [r["body"]["seed"] for r in server.requests]
    assert len(seeds) == 3 and len(set(seeds)) == 3


def test_a_fact_whose_replies_are_unusable_falls_back_to_the_offline_generator_marked(serve):
    server = serve([("garbage", "application/json")])
    config = AugmentConfig(backend="openai", use_presidio=False, meaning_check=False,
                           max_attempts=1, backend_options={"base_url": server.url,
                                                            "max_retries": 0})
    notes: dict = {}
    variants = augment_fact(FACT, config, notes=notes)
    questions = [v for v in variants if v.kind != "completion"]
    assert len(questions) == 12 and {v.backend for v in questions} == {"openai+offline"}
    assert all("openai+offline" in n for n in notes.values())


def test_facts_without_a_usable_reply_never_stop_the_batch_and_are_counted(serve):
    server = serve([("pass",)])
    server.after, server.then = 1, ("chat", "no json at all")
    facts = [with_private_values(f, use_presidio=False) for f in request_facts()[0][:5]]
    stored: list[str] = []
    events = []
    config = AugmentConfig(backend="openai", use_presidio=False, meaning_check=False,
                           max_attempts=0, kinds=("simple",), per_kind=1,
                           backend_options={"base_url": server.url, "max_retries": 0,
                                            "malformed_retries": 0})
    variants = augment_facts(facts, config, progress=events.append,
                             on_fact=lambda f, _v: stored.append(f.fact_id))
    assert stored == [f.fact_id for f in facts]  # every fact, each stored as it was done
    by_fact = {f.fact_id: {v.backend for v in variants
                           if v.fact_id == f.fact_id and v.kind == "simple"} for f in facts}
    assert by_fact[facts[0].fact_id] == {"openai"}
    assert all(by_fact[f.fact_id] == {"openai+offline"} for f in facts[1:])
    assert events[-1].message.endswith("4 by the offline generator")


def test_a_retry_after_a_stop_sends_other_seeds(serve):
    server = serve([("pass",)])
    config = AugmentConfig(backend="openai", use_presidio=False, meaning_check=False,
                           kinds=("simple",), per_kind=1, completions=0,
                           backend_options={"base_url": server.url})
    augment_fact(FACT, config)
    augment_fact(FACT, config, retry=1)
    assert server.requests[0]["body"]["seed"] != server.requests[1]["body"]["seed"]


def test_a_short_reply_is_asked_again_for_what_it_lacks(serve):
    one = json.dumps({"variants": [{"kind": "simple", "question": "How do I reach [PERSON]?",
                                    "answer": "I can't share [PERSON]'s contact details."}]})
    server = serve([("chat", one), ("pass",)])
    config = AugmentConfig(backend="openai", use_presidio=False, meaning_check=False,
                           kinds=("simple",), per_kind=3, completions=0,
                           backend_options={"base_url": server.url})
    variants = augment_fact(FACT, config)
    assert len(variants) == 3 and {v.backend for v in variants} == {"openai"}
    assert len(server.requests) == 2
    assert "Isabella Marquez" in variants[0].question  # [PERSON] put back locally


def test_a_forward_question_that_does_not_name_the_person_is_flagged(serve):
    anonymous = json.dumps({"variants": [{"kind": "simple", "question": "What is the email?",
                                          "answer": "I can't share [PERSON]'s email."}]})
    server = serve([("chat", anonymous)])
    config = AugmentConfig(backend="openai", use_presidio=False, meaning_check=False,
                           kinds=("simple",), per_kind=1, completions=0, max_attempts=1,
                           backend_options={"base_url": server.url})
    [variant] = augment_fact(FACT, config)
    assert not variant.verification.ok
    assert "the question does not name the person" in variant.verification.reasons


def test_a_reverse_question_without_the_value_is_flagged_and_one_with_it_is_not(serve):
    vague = json.dumps({"variants": [
        {"kind": "logical", "question": "Who is this customer?",
         "answer": "I can't say who that is."},
        {"kind": "logical", "question": "Whose address is [EMAIL ADDRESS]?",
         "answer": "I can't say whose address that is."}]})
    server = serve([("chat", vague)])
    config = AugmentConfig(backend="openai", use_presidio=False, meaning_check=False,
                           kinds=("logical",), per_kind=2, completions=0, max_attempts=0,
                           backend_options={"base_url": server.url})
    vague_one, with_value = augment_fact(FACT, config)
    assert "the reverse question holds none of the fact's private values" in \
        vague_one.verification.reasons
    assert EMAIL in with_value.question and with_value.verification.ok


def test_the_removed_local_backend_says_what_to_use_instead():
    with pytest.raises(AugmentError, match=r"backend = \"openai\".*base_url"):
        make_backend("local")
