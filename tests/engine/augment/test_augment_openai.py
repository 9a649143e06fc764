"""The openai backend through the real client against a local chat-completions server."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from augment_samples import request_facts

from engine.augment import AugmentConfig, AugmentError, augment_fact, make_backend
from engine.augment.llm_format import mask, parse_variants
from engine.augment.pipeline import with_private_values
from engine.types import VARIANT_KINDS

FACT = with_private_values(request_facts()[0][0], use_presidio=False)  # the e-mail fact
EMAIL = "isabella.marquez@example.org"


def fake_model(request: dict) -> str:
    """A well-behaved model: reads our JSON request, writes per_kind variants of each kind,
    uses the placeholder in reverse questions and never in answers."""
    payload = json.loads(request["messages"][-1]["content"])
    subject = payload["subject"]
    placeholder = payload["private_details"][0]
    variants = []
    for kind, spec in payload["write"].items():
        for i in range(spec["count"]):
            if kind == "logical":
                q = f"Who owns {placeholder}? ({i})"
                a = "I can't say whose contact details those are."
            else:
                q = f"{kind} question {i} about {subject}'s email?"
                a = f"I'm sorry, {subject.split()[0]}'s email address is private."
            variants.append({"kind": kind, "question": q, "answer": a})
    return "Here you go:\n```json\n" + json.dumps({"variants": variants}) + "\n```"


def completion(content: str, model: str) -> bytes:
    return json.dumps({
        "id": "chatcmpl-test", "object": "chat.completion", "created": 0, "model": model,
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": content}}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }).encode()


class Server:
    """A chat-completions endpoint on 127.0.0.1 that plays a script of replies:
    ``("status", code)``, ``("garbage", content_type)``, ``("sleep", seconds)``,
    ``("chat", text)`` or ``("model",)`` (answer with :func:`fake_model`); the last entry
    repeats."""

    def __init__(self, script: list[tuple]) -> None:
        self.script = list(script)
        self.requests: list[dict] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append({"path": self.path, "body": body,
                                        "auth": self.headers.get("Authorization")})
                step = server.script.pop(0) if len(server.script) > 1 else server.script[0]
                if step[0] == "status":
                    self._send(step[1], b'{"error": {"message": "busy", "type": "x"}}',
                               {"retry-after-ms": "5"})
                elif step[0] == "garbage":
                    self._send(200, b"<html>this is not json{", {}, step[1])
                elif step[0] == "sleep":
                    time.sleep(step[1])
                    self._send(200, completion(fake_model(body), body["model"]), {})
                elif step[0] == "chat":
                    self._send(200, completion(step[1], body["model"]), {})
                else:
                    self._send(200, completion(fake_model(body), body["model"]), {})

            def _send(self, code, data, headers, ctype="application/json"):
                try:
                    self.send_response(code)
                    self.send_header("Content-Type", ctype)
                    self.send_header("Content-Length", str(len(data)))
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,),
                                       daemon=True)

    def __enter__(self) -> Server:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


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
    server = serve([("status", 429), ("model",)])
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
    server = serve([("garbage", content_type), ("model",)])
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
    server = serve([("model",)])
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
    server = serve([("chat", leaky), ("model",)])
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
    with pytest.raises(TypeError):
        make_backend("openai", api_key="sk-nope")
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


def test_masking_hides_every_value_and_unmasking_restores_it():
    fact = with_private_values(request_facts()[0][5], use_presidio=False)  # account id
    masked = mask(fact)
    for pv in fact.private_values:
        assert pv.value not in masked.answer
    [(placeholder, value)] = masked.placeholders.items()
    assert masked.unmask(f"Who holds {placeholder.lower()}?") == f"Who holds {value}?"
    assert masked.unmask("Who holds [ ACCOUNT_IDENTIFIER ]?") == f"Who holds {value}?"
