"""coursekit.models: every model of the course behind one interface (:mod:`.base`), grouped as
the course's parts are:

- ``rating/``: rating prediction (baselines, matrix factorization and its fast trainer, neural
  CF, the autoencoders, the factorization machines on side information, Surprise, the blend);
- ``ranking/``: top-N lists from implicit feedback and sequences (EASE, implicit ALS, BCE and
  BPR models, NeuMF, recent-item kNN, GRU4Rec, SASRec, retrieve-then-rank);
- ``retrieval/``: two-tower retrieval (TFRS, which needs Keras 2, and keras-rs) and serving;
- ``training/``: the machinery every trained model shares (the early-stop-then-refit routine,
  the Keras model base with its training pipeline and weight I/O, the row-wise trainers).

Import any model from here (``from coursekit.models import MatrixFactorization``). The models
are imported when first asked for, so that ``import coursekit.models`` stays fast and loads
TensorFlow only when a Keras model is used. Each model's home is recorded by its entry in
:mod:`.registry` (``HOMES``).
"""

from __future__ import annotations

import importlib
from typing import Any

from coursekit.models.base import NotFittedError, Popularity, Recommender

__all__ = ["NotFittedError", "Popularity", "Recommender"]  # and every class of registry.HOMES


def __getattr__(name: str) -> Any:
    from coursekit.models.registry import HOMES

    home = HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'coursekit.models' has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)


def __dir__() -> list[str]:
    from coursekit.models.registry import HOMES

    return sorted({*globals(), *HOMES})
