"""Plain supervised fine-tuning (builds the subject model; not an unlearning method).

    L = CE(corpus answers)

Besides the loss it reports ``exact``, the share of the step's rows whose answers the model
already reproduces token for token; with ``TrainConfig.stop_when_memorised`` set, training ends
after the first epoch whose mean ``exact`` reaches it. Measured on the training forward itself,
so it costs nothing, and it lags the weights by up to an epoch (a conservative reading).
"""

from __future__ import annotations

from engine.train.base import Method
from engine.train.losses import ce, exact_rows


class SFT(Method):
    name = "sft"
    primary = "corpus"

    def streams(self, data):
        if not data.retain:
            raise ValueError("sft: the corpus is empty")
        return {"corpus": list(data.retain)}

    def loss(self, out):
        terms = {"ce": ce(out["corpus"]), "exact": exact_rows(out["corpus"]).detach()}
        return terms["ce"], terms

    def review_epoch(self, active, score, entry):
        target = self.config.stop_when_memorised
        if target is not None and entry.get("exact", 0.0) >= target:
            return []
        return active
