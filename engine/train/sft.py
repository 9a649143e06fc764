"""Plain supervised fine-tuning (builds the subject model; not an unlearning method).

    L = CE(corpus answers)
"""

from __future__ import annotations

from engine.train.base import Method
from engine.train.losses import ce


class SFT(Method):
    name = "sft"
    primary = "corpus"

    def streams(self, data):
        if not data.retain:
            raise ValueError("sft: the corpus is empty")
        return {"corpus": list(data.retain)}

    def loss(self, out):
        terms = {"ce": ce(out["corpus"])}
        return terms["ce"], terms
