"""Factorization machines on side information (Rendle 2010): every (user, film) pair is a
sparse row of features, and the model scores it with a bias per feature plus a factorized
weight for every pair of features.

    model = FactorizationMachine().fit(split)   # ids, demographics, genres, year, rated films
    model.predict(users, items)

The row of a pair is made of blocks (:class:`FeatureBlocks`): the user's id, age group,
gender and occupation, the film's id, genres and period of release, and the films the user
rated in training, each weighted 1/sqrt(n) as in SVD++ (the implicit-feedback block).
:class:`FactorizationMachineNet` is the network. It computes the pairwise term in O(k n)
(:func:`pairwise_interactions`), and since a pair's row is its user's part plus its film's
part, it takes every sum over a row's features once per user and once per film, then
combines them for each pair of the batch (Rendle 2013, relational data).
"""


from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import keras
import numpy as np
import pandas as pd
import scipy.sparse as sp

from coursekit.models.base import _pairs
from coursekit.models.rating.feature_rows import BLOCKS, FeatureBlocks
from coursekit.models.rating.fm_networks import (
    DeepCrossNet,
    DeepFMNet,
    FactorizationMachineNet,
    as_sparse_tensor,
)
from coursekit.models.training.keras_base import (
    PREDICT_BATCH,
    KerasRecommender,
    fit_arrays,
    index_pairs,
)


class FactorizationMachine(KerasRecommender):
    """A factorization machine (Rendle 2010) on ratings, in Keras: :class:`FeatureBlocks`
    rows, squared error, Adam, early-stopped on the validation RMSE and refitted on all
    training ratings by the course's routine (through :class:`KerasRecommender`).

    ``task="click"`` trains on clicks instead (a rating of ``click_threshold`` or more) with
    log-loss; the model then scores pairs by the logit of a click (``click_probability``).

    Regularised by decoupled weight decay (``weight_decay``, AdamW) rather than the network's
    penalty on the features present (``l2``), as chosen on the RATING validation part with
    training seeds 0 and 1. The defaults reach a best validation RMSE of 0.8788 and 0.8901;
    the penalty in its place (``l2=1e-3``), 0.8837 and 0.8957; no weight averaging, 0.8821 and
    0.8913; no ``rated_by`` block, 0.8930 and 0.9048. A larger l2, 32 or 64 factors, Adagrad,
    or batches of 2048 or 4096 (with the learning rate scaled) did not help (these last trials
    ran when Keras fed the batches in the same order every epoch, see
    :func:`~coursekit.models.training.keras_base.epoch_batches`).
    """

    name = "factorization machine"

    def __init__(self, blocks: Sequence[str] = BLOCKS, dim: int = 16, l2: float = 0.0,
                 weight_decay: float = 0.7, epochs: int = 80, batch_size: int = 1024,
                 learning_rate: float = 1e-3, patience: int = 3,
                 validation_fraction: float = 0.1, refit: bool = True, seed: int = 0,
                 weight_averaging: float | None = 0.99,
                 task: Literal["rating", "click"] = "rating", click_threshold: float = 4.0,
                 network_class: type[keras.Model] = FactorizationMachineNet) -> None:
        super().__init__(network_class, epochs, batch_size, learning_rate, patience=patience,
                         validation_fraction=validation_fraction, refit=refit, seed=seed)
        if task not in ("rating", "click"):
            raise ValueError(f"task must be 'rating' or 'click', not {task!r}")
        if l2 < 0 or weight_decay < 0:
            raise ValueError(f"l2 and weight_decay must be 0 or more, not {l2} and "
                             f"{weight_decay}")
        self.blocks, self.dim, self.l2 = tuple(blocks), dim, l2
        self.weight_decay = weight_decay
        self.weight_averaging = weight_averaging
        self.task, self.click_threshold = task, click_threshold
        # the click task scores a pair by the logit of a click: no rating to predict
        self.predicts_ratings = self.scores_are_ratings = task == "rating"
        self.monitor = "val_rmse" if task == "rating" else "val_loss"

    def _loss_and_metrics(self) -> tuple:
        """Squared error and RMSE on ratings; on clicks, binary cross-entropy (log-loss) and
        AUC."""
        if self.task == "rating":
            return super()._loss_and_metrics()
        return (keras.losses.BinaryCrossentropy(from_logits=True),
                [keras.metrics.AUC(from_logits=True, name="auc")])

    def targets(self, ratings: np.ndarray) -> np.ndarray:
        """What the network learns: the ratings, or 1 for a click (a rating of
        ``click_threshold`` or more) and 0 otherwise."""
        if self.task == "rating":
            return ratings
        return (ratings >= self.click_threshold).astype(np.float32)

    def click_probability(self, users, items) -> np.ndarray:
        """The chance of a click on raw ``(user, item)`` pairs (the click task only)."""
        self._check_fitted()
        if self.task != "click":
            raise ValueError("click_probability needs a model trained with task='click'.")
        logits = self._scores_of_ids(*_pairs(users, items))  # unseen ones from features
        return 1.0 / (1.0 + np.exp(-logits.astype(np.float64)))

    def _predict_cold(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Without side features: the global mean rating, or the training click rate."""
        if self.task == "rating":
            return super()._predict_cold(users, items)
        return np.full(users.shape, self.start_mean_, dtype=np.float32)

    def _make_optimizer(self):
        """Adam; with ``weight_decay``, AdamW: every weight but ``w0`` also shrinks by
        ``learning_rate * weight_decay`` of itself at every step, whether its feature is in
        the batch or not (decoupled weight decay, Loshchilov and Hutter 2019). With
        ``weight_averaging`` (a momentum such as 0.99), the optimizer also keeps an
        exponential moving average of the weights, which the network predicts with."""
        averaging = ({} if self.weight_averaging is None else
                     {"use_ema": True, "ema_momentum": self.weight_averaging})
        if not self.weight_decay:
            return keras.optimizers.Adam(self.learning_rate, **averaging)
        optimizer = keras.optimizers.AdamW(self.learning_rate, weight_decay=self.weight_decay,
                                           **averaging)
        optimizer.exclude_from_weight_decay(var_names=["w0"])
        return optimizer

    def fit(self, data, verbose: int = 0, **options) -> FactorizationMachine:
        self.dataset_ = getattr(data, "dataset", None)
        return super().fit(data, verbose, **options)

    def build_network(self, n_users: int, n_items: int) -> keras.Model:
        """The network over the current rows' columns, its w0 starting at the ratings' mean
        (the users and films come in through the rows, not as counts)."""
        return self.network_class(self.features_.columns, self.features_.sides, self.dim,
                                  self.l2, self.start_mean_, **self.network_options())

    def network_options(self) -> dict:
        """What the network takes beyond the factorization machine's settings."""
        return {}

    def _train(self, data, validation, epochs: int, verbose: int):
        """A fresh network on encoded (users, items, ratings): its rows (the rated-films block
        from these ratings alone), early-stopped on ``validation`` when given."""
        users, items, ratings = data
        self.features_ = FeatureBlocks(self.dataset_, self.users_.ids_, self.items_.ids_,
                                       users, items, self.blocks)
        targets = self.targets(ratings)
        mean = float(targets.mean())  # w0 starts at the mean rating, or the click rate's logit
        self.start_mean_ = mean if self.task == "rating" else float(
            np.log(mean / max(1.0 - mean, 1e-6)) if 0.0 < mean < 1.0 else 0.0)
        pairs = index_pairs(users, items)
        network = self._compiled_network(pairs, targets)
        # validated and kept with the averaged weights (swapped in at each epoch's end)
        callbacks: list = ([keras.callbacks.SwapEMAWeights(swap_on_epoch=True)]
                           if self.weight_averaging is not None else [])
        held = None
        if validation is not None:
            callbacks.append(keras.callbacks.EarlyStopping(
                monitor=self.monitor,
                patience=self.patience, restore_best_weights=True))
            held = (index_pairs(validation[0], validation[1]), self.targets(validation[2]))
        fitted = fit_arrays(network, (pairs, targets), epochs=epochs,
                            batch_size=self.batch_size, seed=self.seed, validation=held,
                            callbacks=callbacks + self.callbacks, verbose=verbose)
        return network, fitted.history

    def _predict_known(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        return self._score_pairs(index_pairs(users, items))

    def _predict_unknown(self, users: np.ndarray, items: np.ndarray, user_ids: np.ndarray,
                         item_ids: np.ndarray) -> np.ndarray:
        """Cold start by features: an unseen user or film is scored from its side features
        (the id and implicit-feedback blocks stay empty); with only id blocks, the global
        mean."""
        if self.features_.features is None:
            return self._predict_cold(users, items)
        sides = (self.features_.side_rows("user", user_ids, users),
                 self.features_.side_rows("item", item_ids, items))
        return self._score_pairs(index_pairs(np.arange(users.size), np.arange(items.size)),
                                 sides)

    def recommend_new_user(self, age: int, gender: str, occupation: str, n: int = 10
                           ) -> pd.DataFrame:
        """The ``n`` films with the highest predicted rating for a user who has rated
        nothing, from their age, gender ("M" or "F") and occupation alone."""
        self._check_fitted()
        if self.features_.features is None or not {"age", "gender", "occupation"} & set(
                self.blocks):
            raise ValueError("a new user is known by their demographics: fit with the age, "
                             "gender or occupation blocks.")
        profile = pd.DataFrame({"age": [age], "gender": [gender], "occupation": [occupation]})
        codes = self.features_.features.code_users(profile)
        items = np.arange(len(self.items_))
        user_part = self.features_.side_rows("user", np.zeros(1), np.array([-1]), codes)
        scores = self._score_pairs(index_pairs(np.zeros(items.size, dtype=int), items),
                                   (user_part, self.features_.sides[1]))
        best = np.argsort(-scores, kind="stable")[:n]
        return self._table(self.items_.ids_[best], self._shown(scores[best]),
                           "features of a new user")

    def _score_pairs(self, pairs: np.ndarray,
                     sides: tuple[sp.csr_matrix, sp.csr_matrix] | None = None) -> np.ndarray:
        """The network's scores of index ``pairs`` into ``sides`` (the training sides by
        default)."""
        parts = (self.network_.sides if sides is None
                 else tuple(as_sparse_tensor(side) for side in sides))
        out = [np.asarray(self.network_.score(pairs[k:k + PREDICT_BATCH], parts))
               for k in range(0, len(pairs), PREDICT_BATCH)]
        return (np.concatenate(out) if out else np.zeros(0)).astype(np.float32)


class DeepFM(FactorizationMachine):
    """DeepFM (Guo et al. 2017) on ratings: :class:`DeepFMNet` on :class:`FeatureBlocks` rows,
    trained as :class:`FactorizationMachine` is.

    Its perceptron overfits within a dozen epochs; dropout 0.7 was chosen on the RATING
    validation part with training seeds 0 and 1 (best validation RMSE 0.8826 and 0.8966 with
    0.2; 0.8760 and 0.8882 with 0.7). Its learning rate is the factorization machine's. On the
    validation parts of the RATING split and of a split with seed 7 (training seeds 0 and 1),
    2e-3 did a little better alone (mean best validation RMSE 0.8822 against 0.8833), but as
    a member of the chapter's blend it split: the blend's RMSE cross-validated on its held-out
    tenth was 0.86823 against 0.86792 on the RATING split, 0.87919 against 0.87979 on the
    other. (With the batch order Keras used before, see
    :func:`~coursekit.models.training.keras_base.epoch_batches`, 2e-3 tied alone, 0.8828 against
    0.8830, and did a little worse in the blend; 3e-3, dropout 0.8, (32, 16) units and
    batches of 4096 did no better.)"""

    name = "DeepFM"

    def __init__(self, blocks: Sequence[str] = BLOCKS, dim: int = 16, l2: float = 0.0,
                 hidden_units: Sequence[int] = (64, 32), dropout: float = 0.7,
                 network_class: type[keras.Model] = DeepFMNet, **settings) -> None:
        super().__init__(blocks, dim, l2, network_class=network_class, **settings)
        self.hidden_units, self.dropout = tuple(hidden_units), dropout

    def network_options(self) -> dict:
        return {"hidden_units": self.hidden_units, "dropout": self.dropout}


class DeepCrossNetwork(FactorizationMachine):
    """DCN-v2 (Wang et al. 2021) on ratings: :class:`DeepCrossNet` on :class:`FeatureBlocks`
    rows, trained as :class:`FactorizationMachine` is; dropout 0.7 as DeepFM's (on the RATING
    validation part, training seeds 0 and 1: best validation RMSE 0.8972 and 0.9058 with 0.2,
    0.8930 and 0.9069 with 0.7). The learning rate was chosen on the validation parts of the
    RATING split and of a split with seed 7, training seeds 0 and 1: mean best validation
    RMSE 0.8998 at 3e-3, against 0.9052 at 2e-3 and 0.9110 at 1e-3. (The first trials ran
    when Keras fed the batches in the same order every epoch, see
    :func:`~coursekit.models.training.keras_base.epoch_batches`: 0.9010, 0.9043 and 0.9098; 4e-3, on
    the RATING split alone, was then level with 3e-3.)"""

    name = "DCN-v2"

    def __init__(self, blocks: Sequence[str] = BLOCKS, dim: int = 16, l2: float = 0.0,
                 cross_layers: int = 2, projection_dim: int | None = 32,
                 hidden_units: Sequence[int] = (64, 32), dropout: float = 0.7,
                 learning_rate: float = 3e-3,
                 network_class: type[keras.Model] = DeepCrossNet, **settings) -> None:
        super().__init__(blocks, dim, l2, learning_rate=learning_rate,
                         network_class=network_class, **settings)
        self.cross_layers, self.projection_dim = cross_layers, projection_dim
        self.hidden_units, self.dropout = tuple(hidden_units), dropout

    def network_options(self) -> dict:
        return {"cross_layers": self.cross_layers, "projection_dim": self.projection_dim,
                "hidden_units": self.hidden_units, "dropout": self.dropout}
