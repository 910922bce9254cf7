"""A Bayesian factorization machine (Rendle 2012), sampled by myFM, on the same feature rows
as the Keras factorization machines."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from coursekit.models.base import Recommender
from coursekit.models.rating.feature_rows import BLOCKS, FeatureBlocks


def _myfm():
    try:
        import myfm
    except ImportError as error:
        raise ImportError(
            "The Bayesian factorization machine uses myFM: install it with `pip install myfm` "
            "(in Colab: `%pip install myfm`), then run this cell again.") from error
    return myfm


class BayesianFactorizationMachine(Recommender):
    """A Bayesian factorization machine (Rendle 2012; Gibbs sampling by myFM) on the same
    :class:`FeatureBlocks` rows: no learning rate, no penalty to tune (each block gets its own
    prior, sampled with the weights), and the prediction averages the last
    ``n_kept_samples`` of ``n_iter`` samples. The users' and films' parts of the rows go in
    as myFM's relation blocks, so each user's and film's row is stored and summed once."""

    name = "Bayesian FM (myFM)"

    def __init__(self, blocks: Sequence[str] = BLOCKS, rank: int = 10, n_iter: int = 200,
                 n_kept_samples: int = 150, seed: int = 0) -> None:
        super().__init__()
        if not 0 < n_kept_samples <= n_iter:
            raise ValueError(f"n_kept_samples must be between 1 and n_iter ({n_iter}), "
                             f"not {n_kept_samples}")
        self.blocks, self.rank, self.seed = tuple(blocks), rank, seed
        self.n_iter, self.n_kept_samples = n_iter, n_kept_samples

    def fit(self, data, verbose: int = 0, **options) -> BayesianFactorizationMachine:
        self.dataset_ = getattr(data, "dataset", None)
        return super().fit(data, verbose, **options)

    def _fit(self, users, items, ratings, validation, verbose) -> None:
        myfm = _myfm()
        if validation is not None:  # nothing to stop early: sample on every rating
            users, items, ratings = (np.concatenate([a, b]) for a, b in
                                     zip((users, items, ratings), validation, strict=True))
        self.features_ = FeatureBlocks(self.dataset_, self.users_.ids_, self.items_.ids_,
                                       users, items, self.blocks)
        (user_part, user_groups), (item_part, item_groups) = (
            self.features_.side_matrix("user"), self.features_.side_matrix("item"))
        self.parts_ = (user_part, item_part)  # every user's and film's own columns, once
        self.model_ = myfm.MyFMRegressor(rank=self.rank, random_seed=self.seed)
        self.model_.fit(sp.csr_matrix((users.size, 0), dtype=np.float32), ratings,
                        X_rel=[myfm.RelationBlock(users, user_part),
                               myfm.RelationBlock(items, item_part)],
                        n_iter=self.n_iter, n_kept_samples=self.n_kept_samples,
                        group_shapes=user_groups + item_groups)

    def _predict_rows(self, users, items, user_part, item_part) -> np.ndarray:
        myfm = _myfm()
        return self.model_.predict(
            sp.csr_matrix((users.size, 0), dtype=np.float32),
            X_rel=[myfm.RelationBlock(users, user_part),
                   myfm.RelationBlock(items, item_part)]).astype(np.float32)

    def _predict_known(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        return self._predict_rows(users, items, *self.parts_)

    def _predict_unknown(self, users: np.ndarray, items: np.ndarray, user_ids: np.ndarray,
                         item_ids: np.ndarray) -> np.ndarray:
        """Cold start by features, as :class:`FactorizationMachine` does it."""
        if self.features_.features is None:
            return self._predict_cold(users, items)
        user_part = self.features_.side_matrix(
            "user", self.features_.side_rows("user", user_ids, users))[0]
        item_part = self.features_.side_matrix(
            "item", self.features_.side_rows("item", item_ids, items))[0]
        pairs = np.arange(users.size)
        return self._predict_rows(pairs, pairs, user_part, item_part)
