"""The openai backend: any OpenAI-compatible chat-completions server (OpenAI, vLLM, Ollama,
llama.cpp server) through the official ``openai`` client.

The private values never leave the machine: they are masked before the request and put back
into reverse questions afterwards. The subject's name and the masked fact are sent. The API key
is read from the environment when the backend is built and handed to the client only.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from engine.augment.base import AugmentError, Draft, stable_seed
from engine.augment.llm_format import SYSTEM, mask, parse_variants, request_payload
from engine.types import Fact

KEY_VARIABLES = ("RELEARN_OPENAI_API_KEY", "OPENAI_API_KEY")
DEFAULT_MODEL = "gpt-4o-mini"


class OpenAIBackend:
    """Variants from a chat model behind an OpenAI-compatible ``base_url``.

    The client retries 408/409/429/5xx and connection errors ``max_retries`` times with
    exponential backoff (honouring Retry-After); a reply that is not the JSON we asked for is
    requested again ``malformed_retries`` times; after that :class:`AugmentError` names the fact
    id, never its content.
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
        self.model = model
        self.base_url = base_url or "https://api.openai.com/v1"
        self.timeout = float(timeout)
        self.temperature = temperature
        self.malformed_retries = malformed_retries
        self.json_mode = json_mode
        # strict validation turns a reply that is not a chat completion into an exception
        # instead of a bare string
        self._client = openai.OpenAI(
            api_key=key, base_url=base_url, timeout=self.timeout, max_retries=max_retries,
            _strict_response_validation=True,
        )

    def __repr__(self) -> str:
        return f"OpenAIBackend(model={self.model!r}, base_url={self.base_url!r})"

    def _complete(self, fact: Fact, messages: list[dict[str, str]], seed: int) -> Any:
        import openai

        extra: dict[str, Any] = {}
        if self.json_mode:
            extra["response_format"] = {"type": "json_object"}
        where = f"openai backend ({self.base_url}), fact {fact.fact_id}"
        try:
            return self._client.chat.completions.create(
                model=self.model, messages=messages, temperature=self.temperature, seed=seed,
                **extra,
            )
        except openai.APITimeoutError as exc:
            raise AugmentError(f"{where}: no reply within {self.timeout:g} s") from exc
        except openai.APIConnectionError as exc:
            raise AugmentError(f"{where}: cannot connect") from exc
        except openai.APIStatusError as exc:
            # the body is not quoted: servers echo the request, and the request names the subject
            raise AugmentError(f"{where}: HTTP {exc.status_code} ({type(exc).__name__})") from exc

    def variants(
        self, fact: Fact, *, kinds: Sequence[str], per_kind: int, seed: int, attempt: int
    ) -> list[tuple[str, str, str]]:
        import openai

        masked = mask(fact)
        messages = [
            {"role": "system", "content": SYSTEM},
            {"role": "user",
             "content": request_payload(masked, fact.subject_name, kinds, per_kind)},
        ]
        tries = 1 + self.malformed_retries
        for t in range(tries):
            request_seed = stable_seed(seed, fact.fact_id, attempt, t) % 2**31
            try:
                response = self._complete(fact, messages, request_seed)
                content = response.choices[0].message.content
            except (openai.APIResponseValidationError, ValueError, AttributeError, IndexError,
                    TypeError):
                continue  # a body that is not a chat completion: ask again
            items = parse_variants(content, kinds)
            if items:
                return [
                    Draft(k, masked.unmask(q), masked.unmask(a), self.name) for k, q, a in items
                ]
        raise AugmentError(
            f"openai backend ({self.base_url}), fact {fact.fact_id}: no usable variants in "
            f"{tries} replies (malformed or empty JSON)"
        )
