"""Early stopping on a validation part, then a refit on all training data: the one routine
every trained model of the course uses (the Keras models, the autoencoders, TFRS ranking).

1. The validation part is the split's own when it has one; otherwise ``validation_fraction``
   of the training ratings, drawn with the model's seed.
2. The model trains on the rest, with early stopping on the validation RMSE; the best epoch
   (the one with the lowest validation RMSE) is the number of epochs chosen.
3. With ``refit=True``, a fresh model trains on training plus validation ratings for
   :func:`refit_epochs` epochs, so that no rating the model may learn from is left out.

An epoch is one pass over a model's training examples: the ratings for the Keras models and
TFRS ranking, the rows of the rating matrix (every film, or every user) for the autoencoders.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

Arrays = tuple[np.ndarray, np.ndarray, np.ndarray]  # encoded users, items, ratings


def holdout_mask(n: int, fraction: float, seed: int) -> np.ndarray:
    """A seeded boolean mask marking ``int(fraction * n)`` of ``n`` rows for validation."""
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"validation_fraction must lie between 0 and 1, got {fraction}.")
    held = np.zeros(n, dtype=bool)
    held[np.random.default_rng(seed).permutation(n)[: int(fraction * n)]] = True
    return held


def one_choice_per_user(users: np.ndarray, items: np.ndarray, ratings: np.ndarray,
                        n_users: int, seed: int) -> tuple[Arrays, Arrays]:
    """(training, validation): one choice of each user with three or more, drawn by the seed,
    held out for a validation HR@10; the rest for training."""
    order = np.random.default_rng(seed).permutation(users.size)
    held = np.zeros(users.size, dtype=bool)
    held[order[np.unique(users[order], return_index=True)[1]]] = True
    held &= np.bincount(users, minlength=n_users)[users] >= 3
    return ((users[~held], items[~held], ratings[~held]),
            (users[held], items[held], ratings[held]))


def refit_epochs(best_epoch: int, n_fit: int, n_all: int) -> int:
    """Epochs for the refit: the best epoch count scaled by how many more examples an epoch
    iterates over.

    A model that stopped improving after ``best_epoch`` passes over ``n_fit`` examples is
    given proportionally more passes over ``n_all`` examples, since more data takes longer to
    overfit (a rule of thumb: with a 10% validation part of the ratings, 11% more epochs of a
    model that iterates over ratings; the same number for one that iterates over the rows of
    a matrix, whose count does not change).
    """
    return max(1, math.ceil(best_epoch * n_all / n_fit))


@dataclass
class StoppedRun:
    """What :func:`early_stop_then_refit` returns: the model to keep and how it was chosen."""

    model: Any
    history: pd.DataFrame  # one row per epoch of the early-stopped run, with its monitor
    best_epoch: int
    epochs_trained: int  # of the model kept


def early_stop_then_refit(
    train: Callable[[Arrays, Arrays | None, int], tuple[Any, dict[str, list[float]]]],
    data: Arrays,
    validation: Arrays | None,
    *,
    epochs: int,
    validation_fraction: float,
    seed: int,
    refit: bool,
    examples: Callable[[Arrays], int] = lambda data: len(data[2]),
    monitor: str = "val_rmse",
    mode: Literal["min", "max"] = "min",
    on_stopped: Callable[[Any, Arrays], None] | None = None,
) -> StoppedRun:
    """Run the routine above. ``train(data, validation, epochs)`` trains a fresh model (with
    early stopping on ``validation`` when it is given, restoring its best weights) and
    returns ``(model, Keras-style history)``; ``examples(data)`` counts what one epoch over
    ``data`` iterates over (by default its ratings); the best epoch has the lowest
    ``monitor`` (``mode="min"``, an error) or the highest (``mode="max"``, a hit rate).
    ``on_stopped(model, validation)`` sees the early-stopped model before any refit (the
    rating models keep its predictions of the validation ratings, which a blend is fitted
    on)."""
    if validation is None:
        held = holdout_mask(len(data[2]), validation_fraction, seed)
        validation = tuple(part[held] for part in data)  # type: ignore[assignment]
        data = tuple(part[~held] for part in data)  # type: ignore[assignment]
    model, history = train(data, validation, epochs)
    frame = pd.DataFrame(history)
    frame.index = pd.RangeIndex(1, len(frame) + 1, name="epoch")
    best_epoch = int(frame[monitor].idxmin() if mode == "min" else frame[monitor].idxmax())
    if on_stopped is not None:
        on_stopped(model, validation)
    if not refit:
        return StoppedRun(model, frame, best_epoch, best_epoch)
    everything = tuple(np.concatenate([a, b]) for a, b in zip(data, validation, strict=True))
    more_epochs = refit_epochs(best_epoch, examples(data), examples(everything))
    model, _ = train(everything, None, more_epochs)  # type: ignore[arg-type]
    return StoppedRun(model, frame, best_epoch, more_epochs)
