"""The openai backend: any OpenAI-compatible chat-completions server (OpenAI, vLLM, Ollama,
llama.cpp server) through the official ``openai`` client.

What leaves the machine is :func:`engine.augment.llm_format.mask`'s output: the question with
the person's name, every private value and every sensitive-topic word as placeholders, and the
placeholders the answer holds; never the answer's text. Reverse questions and names get their
text back locally. The API key is read from the environment when the backend is built and
handed to the client only.

Requests fit the server: ``max_tokens`` is sized to the reply asked for, and the reply's shape is
asked for as a JSON schema, stepping down when a server refuses it (see :data:`FORMATS`).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Sequence
from typing import Any

from engine.augment.base import AugmentError, BackendUnavailable, Draft, UnusableReply, stable_seed
from engine.augment.llm_format import (
    TOKENS_PER_VARIANT,
    max_tokens,
    messages,
    parse_variants,
    reply_schema,
)
from engine.types import Fact

KEY_VARIABLES = ("RELEARN_OPENAI_API_KEY", "OPENAI_API_KEY")
DEFAULT_MODEL = "gpt-4o-mini"
# How the reply's shape is asked for, most constraining first. A server that refuses one (HTTP
# 400/404/422, or any error naming response_format) gets the next, and the backend remembers
# what worked:
#  - "json_schema": OpenAI's structured outputs (OpenAI, vLLM, Ollama, llama.cpp's own server);
#  - "json_object+schema": JSON mode with the schema beside it (llama-cpp-python's server,
#    which turns it into a grammar);
#  - "json_object": plain JSON mode;
#  - "text": no response_format at all; the parser reads JSON out of prose.
FORMATS = ("json_schema", "json_object+schema", "json_object", "text")
# retryable statuses, as the openai client itself retries them
_RETRY_STATUS = {408, 409, 429}
_REFUSED_FORMAT_STATUS = {400, 404, 422}
MAX_BACKOFF_S = 30.0


def _public_url(url: str) -> str:
    """The URL without credentials a user may have put in it (https://user:pass@host)."""
    return re.sub(r"//[^/@]*@", "//", url)


def response_format(fmt: str, kinds: Sequence[str], per_kind: int) -> dict[str, Any] | None:
    schema = reply_schema(kinds, per_kind)
    if fmt == "json_schema":
        return {"type": "json_schema",
                "json_schema": {"name": "variants", "schema": schema, "strict": True}}
    if fmt == "json_object+schema":
        return {"type": "json_object", "schema": schema}
    if fmt == "json_object":
        return {"type": "json_object"}
    return None


class OpenAIBackend:
    """Variants from a chat model behind an OpenAI-compatible ``base_url``.

    Connection errors, 408/409/429 and 5xx are retried ``max_retries`` times with exponential
    backoff (honouring Retry-After); past that, or on a timeout (not retried: the server would
    still be generating the abandoned reply and the retry would queue behind it), the backend
    raises :class:`BackendUnavailable`. A reply that is not the JSON asked for (non-JSON body,
    empty, cut at ``max_tokens``, no variant) is asked again ``malformed_retries`` times with
    another seed, then :class:`UnusableReply`. Messages name the fact id, never its content.
    """

    name = "openai"

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        base_url: str | None = None,
        timeout: float = 60.0,
        max_retries: int = 4,
        temperature: float = 0.8,
        malformed_retries: int = 2,
        json_mode: bool = True,
        json_schema: bool = True,
        tokens_per_variant: int = TOKENS_PER_VARIANT,
    ) -> None:
        import openai

        base_url = base_url or os.environ.get("OPENAI_BASE_URL") or None
        key = next((os.environ[v] for v in KEY_VARIABLES if os.environ.get(v)), None)
        if key is None:
            if base_url is None:
                raise AugmentError(
                    "openai backend: set RELEARN_OPENAI_API_KEY or OPENAI_API_KEY in the "
                    "environment (keys are never read from files or options)"
                )
            key = "unused"  # local servers (vLLM, Ollama, llama.cpp) accept any key
        if float(timeout) <= 0 or int(max_retries) < 0 or int(malformed_retries) < 0:
            raise ValueError("openai backend: timeout must be positive, max_retries and "
                             "malformed_retries not negative")
        self.model = model
        self.base_url = base_url or "https://api.openai.com/v1"
        self.timeout = float(timeout)
        self.max_retries = int(max_retries)
        self.temperature = temperature
        self.malformed_retries = int(malformed_retries)
        self.tokens_per_variant = int(tokens_per_variant)
        if not json_mode:
            self.formats: list[str] = ["text"]
        elif not json_schema:
            self.formats = ["json_object", "text"]
        else:
            self.formats = list(FORMATS)
        # strict validation turns a reply that is not a chat completion into an exception
        # instead of a bare string; retries are ours (see _complete)
        self._client = openai.OpenAI(
            api_key=key, base_url=base_url, timeout=self.timeout, max_retries=0,
            _strict_response_validation=True,
        )
        self.requests_sent = 0

    def __repr__(self) -> str:
        return f"OpenAIBackend(model={self.model!r}, base_url={_public_url(self.base_url)!r})"

    @property
    def where(self) -> str:
        return f"openai backend ({_public_url(self.base_url)})"

    def request_body(
        self, fact: Fact, *, kinds: Sequence[str], per_kind: int, seed: int
    ) -> dict[str, Any]:
        """Exactly what the first request for one fact sends (the dry run prints it): the
        format the backend would try first, the seed of its first try."""
        _, msgs = messages(fact, kinds, per_kind)
        return self._body(msgs, kinds, per_kind, self._seed(seed, fact, 0, 0))

    @staticmethod
    def _seed(seed: int, fact: Fact, attempt: int, t: int) -> int:
        return stable_seed(seed, fact.fact_id, attempt, t) % 2**31

    def _body(self, msgs: list[dict], kinds: Sequence[str], per_kind: int,
              seed: int) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model, "messages": msgs, "temperature": self.temperature,
            "seed": seed, "max_tokens": max_tokens(kinds, per_kind, self.tokens_per_variant),
        }
        fmt = response_format(self.formats[0], kinds, per_kind)
        if fmt is not None:
            body["response_format"] = fmt
        return body

    def _backoff(self, exc: Any, retry: int) -> float:
        headers = getattr(getattr(exc, "response", None), "headers", None) or {}
        for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
            try:
                return min(float(headers.get(name)) * scale, MAX_BACKOFF_S)
            except (TypeError, ValueError):
                continue
        return min(0.5 * 2**retry, MAX_BACKOFF_S)

    def _complete(self, fact: Fact, body: dict[str, Any], kinds: Sequence[str],
                  per_kind: int) -> Any:
        import openai

        where = f"{self.where}, fact {fact.fact_id}"
        retry = 0
        while True:
            body = {k: v for k, v in body.items() if k != "response_format"}
            fmt = response_format(self.formats[0], kinds, per_kind)
            if fmt is not None:
                body["response_format"] = fmt
            self.requests_sent += 1
            try:
                return self._client.chat.completions.create(**body)
            except openai.APITimeoutError as exc:
                raise BackendUnavailable(
                    f"{where}: no reply within {self.timeout:g} s for a reply of up to "
                    f"{body['max_tokens']} tokens; raise the backend's timeout or use a faster "
                    "server") from exc
            except openai.APIConnectionError as exc:
                if retry >= self.max_retries:
                    raise BackendUnavailable(
                        f"{where}: cannot connect (after {retry + 1} tries)") from exc
                time.sleep(self._backoff(exc, retry))
            except openai.APIStatusError as exc:
                code = exc.status_code
                if len(self.formats) > 1 and self.formats[0] != "text" and (
                        code in _REFUSED_FORMAT_STATUS or "response_format" in str(exc)):
                    # the server refuses this response_format: step down. llama-cpp-python's
                    # server answers a type it does not know with HTTP 500 naming the field
                    self.formats.pop(0)
                    continue
                if (code in _RETRY_STATUS or code >= 500) and retry < self.max_retries:
                    time.sleep(self._backoff(exc, retry))
                else:
                    # the body is not quoted: servers echo the request
                    raise BackendUnavailable(
                        f"{where}: HTTP {code} ({type(exc).__name__}) after {retry + 1} "
                        f"tr{'y' if retry == 0 else 'ies'}") from exc
            retry += 1

    def variants(
        self, fact: Fact, *, kinds: Sequence[str], per_kind: int, seed: int, attempt: int
    ) -> list[tuple[str, str, str]]:
        import openai

        masked, msgs = messages(fact, kinds, per_kind)
        tries = 1 + self.malformed_retries
        why = "no reply"
        for t in range(tries):
            body = self._body(msgs, kinds, per_kind, self._seed(seed, fact, attempt, t))
            try:
                response = self._complete(fact, body, kinds, per_kind)
                choice = response.choices[0]
                content = choice.message.content
            except (openai.APIResponseValidationError, ValueError, AttributeError, IndexError,
                    TypeError):
                why = "a body that is not a chat completion"
                continue  # ask again
            items = parse_variants(content, kinds)
            if items:
                return [Draft(k, masked.unmask(q), masked.unmask(a), self.name)
                        for k, q, a in items]
            if not (content or "").strip():
                why = "an empty reply"
            elif getattr(choice, "finish_reason", "") == "length":
                why = "a reply cut at max_tokens"
            else:
                why = "a reply without the JSON asked for"
        raise UnusableReply(
            f"{self.where}, fact {fact.fact_id}: no usable variants in {tries} replies "
            f"(last: {why})"
        )
