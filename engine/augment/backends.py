"""Choosing a backend by name: per deployment or per run."""

from __future__ import annotations

from typing import Any

from engine.augment.audience import Audience
from engine.augment.base import AugmentBackend, AugmentError
from engine.augment.offline import OfflineBackend

BACKENDS = ("offline", "openai")
# The "local" backend (the deployed HF model writing variants few-shot) was removed: on a CPU
# it took 29 minutes for 6 facts and wrote 3 of 72 variants, the templates the rest (issue 26).
# The openai backend pointed at a local server does the same job with structured decoding.
REMOVED = {
    "local": "the local backend was removed: serve a model locally with an OpenAI-compatible "
             "server (for example python -m llama_cpp.server --model FILE.gguf) and set "
             "backend = \"openai\" with backend_options = {base_url = "
             "\"http://127.0.0.1:8000/v1\"}",
}


def make_backend(name: str, audience: Audience | None = None, **options: Any) -> AugmentBackend:
    """Build the backend ``name``: ``offline`` (no options) or ``openai`` (the options of
    :class:`engine.augment.openai_backend.OpenAIBackend`; the key comes from the environment
    only). A bad option is an :class:`AugmentError` naming it.
    ``audience`` (the deployment's domain and people) words the templates' contexts and reverse
    questions."""
    key = name.strip().lower()
    if key == "offline":
        if options:
            raise AugmentError(f"the offline backend takes no options, got {sorted(options)}")
        return OfflineBackend(audience)
    if key in REMOVED:
        raise AugmentError(REMOVED[key])
    if key == "openai":
        import inspect

        from engine.augment.openai_backend import OpenAIBackend

        known = set(inspect.signature(OpenAIBackend).parameters)
        unknown = sorted(set(options) - known)
        if unknown:
            raise AugmentError(f"the openai backend has no option {', '.join(unknown)} "
                               f"(its options: {', '.join(sorted(known))})")
        try:
            return OpenAIBackend(**options)
        except (TypeError, ValueError) as exc:
            raise AugmentError(f"openai backend options: {exc}") from exc
    raise AugmentError(
        f"unknown augmentation backend {name!r} (choose one of {', '.join(BACKENDS)})"
    )
