"""Augmentation (docs/design.md §5.3): question variants with sanitised answers, completion items,
leak verification, held-out probes and the retain mix.

Backends (``offline``, ``openai``) share one interface, :class:`AugmentBackend`;
:func:`make_backend` picks one by name. :func:`augment_facts` runs a whole request.
"""

from engine.augment.backends import BACKENDS, make_backend
from engine.augment.base import AugmentBackend, AugmentError, Draft, stable_seed
from engine.augment.completion import completion_row
from engine.augment.offline import OfflineBackend
from engine.augment.originals import original_question_rows
from engine.augment.pipeline import AugmentConfig, augment_fact, augment_facts, with_private_values
from engine.augment.retain import GENERIC_KNOWLEDGE, retain_mix
from engine.augment.summary import summarise
from engine.augment.verify import verify_item

__all__ = [
    "BACKENDS",
    "GENERIC_KNOWLEDGE",
    "AugmentBackend",
    "AugmentConfig",
    "AugmentError",
    "Draft",
    "OfflineBackend",
    "augment_fact",
    "augment_facts",
    "completion_row",
    "make_backend",
    "original_question_rows",
    "retain_mix",
    "stable_seed",
    "summarise",
    "verify_item",
    "with_private_values",
]
