"""The registry of training methods by name."""

from __future__ import annotations

from engine.train.base import Method
from engine.train.config import METHOD_NAMES
from engine.train.ga import GradientAscent
from engine.train.ga_klr import GradientAscentKL
from engine.train.gd import GradientDifference
from engine.train.icu import ICU
from engine.train.npo import NPO
from engine.train.npo_gdr import NPOGradientDescentRetain
from engine.train.npo_klr import NPOKLRetain
from engine.train.relearn import ReLearn
from engine.train.sft import SFT
from engine.train.yao import Yao

METHODS: dict[str, type[Method]] = {
    m.name: m
    for m in (ReLearn, GradientAscent, GradientDifference, GradientAscentKL, NPO,
              NPOGradientDescentRetain, NPOKLRetain, Yao, ICU)
}
assert tuple(METHODS) == METHOD_NAMES

ALL: dict[str, type[Method]] = {**METHODS, "sft": SFT}
"""The unlearning methods plus ``sft``, which builds subject models."""


def make_method(name: str, config) -> Method:
    try:
        return ALL[name](config)
    except KeyError:
        raise ValueError(f"unknown method {name!r}; known: {', '.join(ALL)}") from None
