"""A thin wrapper that gives any Surprise algorithm coursekit's model interface, so that
Surprise's SVD and KNNBaseline report on the same split with the same metrics."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from coursekit.data.splits import Split
from coursekit.evaluation.metrics import evaluate_ratings
from coursekit.models.base import Recommender


class SurpriseRecommender(Recommender):
    """``SurpriseRecommender(surprise.SVD(random_state=0))`` and fit it like any model."""

    def __init__(self, algorithm: Any, name: str | None = None) -> None:
        super().__init__()
        self.algorithm = algorithm
        self.label = name or type(algorithm).__name__

    @property
    def name(self) -> str:  # type: ignore[override]
        return f"Surprise {self.label}"

    def _fit(self, users, items, ratings, validation, verbose) -> None:
        from surprise import Dataset, Reader

        frame = pd.DataFrame({"user": users, "item": items, "rating": ratings})
        reader = Reader(rating_scale=self.rating_scale)
        trainset = Dataset.load_from_df(frame, reader).build_full_trainset()
        self.algorithm.fit(trainset)
        self.trainset_ = trainset

    def _predict_known(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        # Surprise's inner ids differ from ours; it knows our encoded indices as raw ids.
        predict = self.algorithm.predict
        return np.fromiter(
            (predict(int(u), int(i), clip=False).est for u, i in zip(users, items, strict=True)),
            dtype=np.float32, count=len(users),
        )

    def _predict_cold(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        return self._predict_known(users, items)  # Surprise has its own fallback

    def similarity(self) -> np.ndarray:
        """The item-item similarity matrix of a KNN algorithm, in coursekit's item order."""
        sim = self.algorithm.compute_similarities()
        order = [self.trainset_.to_inner_iid(i) for i in range(len(self.items_))]
        return sim[np.ix_(order, order)]


def tune_surprise(
    algorithm_class: type,
    grid: dict[str, Sequence[Any]],
    data: Split | pd.DataFrame,
    validation_fraction: float = 0.1,
    seed: int = 0,
    name: str | None = None,
    progress: bool = True,
    **fixed: Any,
) -> tuple[SurpriseRecommender, pd.DataFrame]:
    """Choose a Surprise algorithm's settings as the course's own models are chosen: on a
    validation part of the training ratings, never on the test part.

    Every combination of ``grid`` (with ``fixed`` settings beside it) is fitted on the rest of
    the training ratings and scored by RMSE on the validation part (the same seeded share that
    the Keras models hold out for early stopping); the best is refitted on all training
    ratings. Returns that model and the table of validation RMSEs, best first.
    """
    from tqdm.auto import tqdm

    from coursekit.models.training.refit import holdout_mask

    train = data.train if isinstance(data, Split) else data
    held = holdout_mask(len(train), validation_fraction, seed)
    fit_part, validation = train[~held], train[held]
    names = list(grid)
    rows = []
    combinations = list(itertools.product(*(grid[key] for key in names)))
    for values in tqdm(combinations, desc=f"tuning {algorithm_class.__name__}",
                       disable=not progress):
        settings = dict(zip(names, values, strict=True))
        model = SurpriseRecommender(algorithm_class(**settings, **fixed)).fit(fit_part)
        rows.append({**settings, "validation RMSE": evaluate_ratings(model, validation)["RMSE"]})
    table = pd.DataFrame(rows).sort_values("validation RMSE", ignore_index=True)
    best = {key: _plain(table.loc[0, key]) for key in names}
    label = name or f"{algorithm_class.__name__} (tuned)"
    model = SurpriseRecommender(algorithm_class(**best, **fixed), name=label).fit(data)
    model.tuned_settings_ = best
    return model, table


def _plain(value: Any) -> Any:
    """A numpy scalar from a table cell as the Python number Surprise expects."""
    return value.item() if isinstance(value, np.generic) else value
