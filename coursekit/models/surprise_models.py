"""A thin wrapper that gives any Surprise algorithm coursekit's model interface, so that
Surprise's SVD and KNNBaseline report on the same split with the same metrics."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .base import Recommender


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
