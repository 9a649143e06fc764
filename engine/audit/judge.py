"""Per-probe verdicts: forgotten / retained, by the entity rule and an optional NLI model.

docs/design.md §5.5, exactly:
- a forget probe is forgotten when NLI(output, truth) is a contradiction, or ``E <= 0.5`` when the
  truth has at most 3 entities, else ``E <= 0.3``;
- a retain probe is retained when NLI(truth, output) is not a contradiction and ``E >= 0.3``.
Without an NLI model only the entity rule applies (the figures carry ``nli_used = False``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

FEW_ENTITIES = 3
FORGET_E_FEW = 0.5
FORGET_E_MANY = 0.3
RETAIN_E = 0.3
CONTRADICTION = "contradiction"


def is_forgotten(entity_score: float, n_truth_entities: int, nli_label: str | None = None) -> bool:
    if nli_label == CONTRADICTION:
        return True
    limit = FORGET_E_FEW if n_truth_entities <= FEW_ENTITIES else FORGET_E_MANY
    return entity_score <= limit


def is_retained(entity_score: float, nli_label: str | None = None) -> bool:
    return nli_label != CONTRADICTION and entity_score >= RETAIN_E


class NliJudge:
    """A local sequence-classification NLI checkpoint (e.g. an MNLI cross-encoder directory).

    Labels are read from the checkpoint's ``id2label``; one of them must name contradiction.
    """

    def __init__(self, path: str | Path, *, batch_size: int = 16) -> None:
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        folder = Path(path).expanduser()
        if not (folder / "config.json").is_file():
            raise ValueError(f"{folder}: NLI model directory has no config.json")
        self.tokenizer = AutoTokenizer.from_pretrained(folder)
        self.model = AutoModelForSequenceClassification.from_pretrained(folder).eval()
        labels = {int(k): str(v).lower() for k, v in self.model.config.id2label.items()}
        if not any(v.startswith("contradict") for v in labels.values()):
            raise ValueError(
                f"{folder}: config.json id2label has no contradiction label "
                f"({sorted(labels.values())})"
            )
        self.labels = {
            k: CONTRADICTION if v.startswith("contradict") else v for k, v in labels.items()
        }
        self.batch_size = batch_size
        self.source = str(folder)

    def labels_for(self, premises: Sequence[str], hypotheses: Sequence[str]) -> list[str]:
        """The predicted label of each (premise, hypothesis) pair."""
        import torch

        out: list[str] = []
        for start in range(0, len(premises), self.batch_size):
            enc = self.tokenizer(
                list(premises[start : start + self.batch_size]),
                list(hypotheses[start : start + self.batch_size]),
                return_tensors="pt", padding=True, truncation=True, max_length=512,
            )
            with torch.inference_mode():
                logits = self.model(**enc).logits
            out.extend(self.labels[int(i)] for i in logits.argmax(-1))
        return out


def load_nli(path: str | Path | None, **kwargs: Any) -> NliJudge | None:
    return None if path is None else NliJudge(path, **kwargs)
