"""Choosing a backend by name: per deployment or per run."""

from __future__ import annotations

from typing import Any

from engine.augment.audience import Audience
from engine.augment.base import AugmentBackend, AugmentError
from engine.augment.offline import OfflineBackend

BACKENDS = ("offline", "local", "openai")


def make_backend(name: str, audience: Audience | None = None, **options: Any) -> AugmentBackend:
    """Build the backend ``name``: ``offline`` (no options), ``local`` (``model``: a loaded
    model or a model spec for :func:`engine.models.load_model`) or ``openai`` (``model``,
    ``base_url``, ``timeout``, ``max_retries``; the key comes from the environment only).
    ``audience`` (the deployment's domain and people) words the templates' contexts and reverse
    questions."""
    key = name.strip().lower()
    if key == "offline":
        if options:
            raise AugmentError(f"the offline backend takes no options, got {sorted(options)}")
        return OfflineBackend(audience)
    if key == "local":
        from engine.augment.local import LocalBackend

        return LocalBackend(**options, audience=audience)
    if key == "openai":
        from engine.augment.openai_backend import OpenAIBackend

        return OpenAIBackend(**options)
    raise AugmentError(
        f"unknown augmentation backend {name!r} (choose one of {', '.join(BACKENDS)})"
    )
