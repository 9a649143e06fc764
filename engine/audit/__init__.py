"""The audit of docs/design.md §5.5: does the model still know what it had to forget?

KFR / KRR by the entity rule (and an optional NLI model), the linguistic score LS with its
components, the leak rate from sampled answers, and the same leak probes again on the model
quantised to 8-bit and 4-bit. :func:`audit_model` measures; :func:`gate` compares an "after"
audit with the deployment's :class:`Thresholds` (and the "before" audit, for LS).
"""

from engine.audit.config import FORGET_GROUPS, GROUPS, RETAIN_GROUPS, AuditConfig, Thresholds
from engine.audit.entities import match_score, minilm_embedder, probe_entities
from engine.audit.figures import AuditFigures, GroupFigures, ProbeRecord
from engine.audit.fluency import brunet, honore, linguistic_score, perplexities
from engine.audit.gate import gate
from engine.audit.generation import generate_batched, generate_one_by_one
from engine.audit.judge import is_forgotten, is_retained
from engine.audit.probes import forget_probes, known_retain, own_probes, retain_probes
from engine.audit.quantize import load_quantized, rtn_quantize_
from engine.audit.runner import AUDIT_VERSION, audit_model, secret_values

__all__ = [
    "AUDIT_VERSION",
    "FORGET_GROUPS",
    "GROUPS",
    "RETAIN_GROUPS",
    "AuditConfig",
    "AuditFigures",
    "GroupFigures",
    "ProbeRecord",
    "Thresholds",
    "audit_model",
    "brunet",
    "forget_probes",
    "gate",
    "generate_batched",
    "generate_one_by_one",
    "honore",
    "is_forgotten",
    "is_retained",
    "known_retain",
    "linguistic_score",
    "load_quantized",
    "match_score",
    "minilm_embedder",
    "own_probes",
    "perplexities",
    "probe_entities",
    "retain_probes",
    "rtn_quantize_",
    "secret_values",
]
