"""Retrieval and ranking with TensorFlow Recommenders (chapter 11).

TensorFlow Recommenders 0.7 is built on Keras 2 (the ``tf-keras`` package), while the rest of
the course uses Keras 3. TensorFlow picks the Keras behind ``tf.keras`` the first time
``tf.keras`` is used, from the environment variable ``TF_USE_LEGACY_KERAS``. Importing this
module sets that variable first; if ``tf.keras`` was already bound to Keras 3 in this Python
process, it raises :class:`KerasVersionError` with what to do.
"""

from __future__ import annotations

import os

os.environ["TF_USE_LEGACY_KERAS"] = "1"


class KerasVersionError(ImportError):
    """TensorFlow's ``tf.keras`` is Keras 3 in this process, so TFRS cannot run here."""


def _check_keras() -> None:
    import tensorflow as tf

    name = tf.keras.__name__
    if not name.startswith("tf_keras"):
        raise KerasVersionError(
            "TensorFlow Recommenders needs Keras 2 (tf-keras), but tf.keras is already Keras 3 "
            f"in this Python process ({name}): something used tf.keras before "
            "coursekit.models.retrieval.tfrs was imported. Restart the runtime (in Colab: "
            "Runtime > Restart session), then run "
            "`import coursekit.models.retrieval.tfrs` before anything else that uses TensorFlow."
        )


_check_keras()

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import tensorflow as tf  # noqa: E402
import tensorflow_recommenders as tfrs  # noqa: E402

# TensorFlow logs INFO and WARNING lines about saving (such as "Assets written to ...") to
# stdout in notebooks; they say nothing a student can act on.
tf.get_logger().setLevel("ERROR")

from coursekit.errors import UnknownIdError  # noqa: E402
from coursekit.models.base import Recommender, check_n  # noqa: E402
from coursekit.models.training.refit import early_stop_then_refit  # noqa: E402

KS = (1, 5, 10, 50, 100)
ACCIDENTAL_HIT_LOGIT = np.finfo(np.float32).min / 100.0  # as TFRS's RemoveAccidentalHits


def _strings(values: "pd.Series | np.ndarray") -> np.ndarray:
    """Ids as the strings the towers' StringLookup layers take (integer or string ids)."""
    return np.asarray(values).astype(str)


# taught: ch-retrieval-ranking-tfrs
class QueryTower(tf.keras.Model):
    """User id -> StringLookup -> Embedding, with a constant 1 appended (it multiplies the
    candidate tower's item bias in the dot product)."""

    def __init__(self, user_ids: np.ndarray, dim: int, l2: float) -> None:
        super().__init__()
        self.lookup = tf.keras.layers.StringLookup(vocabulary=user_ids, mask_token=None)
        self.embedding = tf.keras.layers.Embedding(
            len(user_ids) + 1, dim, embeddings_regularizer=tf.keras.regularizers.l2(l2))

    def call(self, users):
        vectors = self.embedding(self.lookup(users))
        return tf.concat([vectors, tf.ones_like(vectors[:, :1])], axis=1)


# taught: ch-retrieval-ranking-tfrs
class CandidateTower(tf.keras.Model):
    """Movie id -> StringLookup -> Embedding, with a learned per-movie bias appended."""

    def __init__(self, item_ids: np.ndarray, dim: int, l2: float) -> None:
        super().__init__()
        self.lookup = tf.keras.layers.StringLookup(vocabulary=item_ids, mask_token=None)
        self.embedding = tf.keras.layers.Embedding(
            len(item_ids) + 1, dim, embeddings_regularizer=tf.keras.regularizers.l2(l2))
        self.bias = tf.keras.layers.Embedding(len(item_ids) + 1, 1, embeddings_initializer="zeros")

    def call(self, items):
        index = self.lookup(items)
        return tf.concat([self.embedding(index), self.bias(index)], axis=1)


# taught: ch-retrieval-ranking-tfrs
def in_batch_softmax_loss(queries, candidates, log_q=None, film_index=None,
                          remove_accidental_hits=False):
    """The retrieval loss: a softmax over the films of the batch for each user, summed.

    ``logits[j, k]`` scores user ``j`` against the film of pair ``k``; user ``j``'s own film
    is on the diagonal, every other film of the batch a negative. ``log_q`` (the log of each
    film's sampling probability, by vocabulary index ``film_index``) subtracts what a film's
    frequency adds to its chance of being a negative (Yi et al. 2019); with
    ``remove_accidental_hits`` a user's own film elsewhere in the batch is not a negative.
    """
    logits = tf.matmul(queries, candidates, transpose_b=True)  # batch x batch
    if log_q is not None:
        logits -= tf.gather(log_q, film_index)[tf.newaxis, :]
    if remove_accidental_hits:
        same_film = tf.cast(film_index[:, tf.newaxis] == film_index[tf.newaxis, :], tf.float32)
        diagonal = tf.eye(tf.shape(logits)[0])
        logits += (same_film - diagonal) * ACCIDENTAL_HIT_LOGIT  # the diagonal stays
    labels = tf.range(tf.shape(logits)[0])  # user j's film is column j: the diagonal
    losses = tf.keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True)
    return tf.reduce_sum(losses)


# taught: ch-retrieval-ranking-tfrs
class TwoTowerModel(tfrs.Model):
    """Two towers trained by :func:`in_batch_softmax_loss`; the top-K metrics of TFRS's
    ``Retrieval`` task (every film a candidate) are computed in evaluation only."""

    def __init__(self, user_ids: np.ndarray, item_ids: np.ndarray, dim: int, l2: float,
                 log_q: np.ndarray | None = None, remove_accidental_hits: bool = False) -> None:
        super().__init__()
        self.query_tower = QueryTower(user_ids, dim, l2)
        self.candidate_tower = CandidateTower(item_ids, dim, l2)
        self.log_q = None if log_q is None else tf.constant(log_q, tf.float32)
        self.remove_accidental_hits = remove_accidental_hits
        candidates = tf.data.Dataset.from_tensor_slices(item_ids).batch(1024)
        self.task = tfrs.tasks.Retrieval(metrics=tfrs.metrics.FactorizedTopK(
            candidates=candidates.map(self.candidate_tower), ks=KS))

    def compute_loss(self, features, training=False):
        queries = self.query_tower(features["user"])
        candidates = self.candidate_tower(features["item"])
        if not training:  # top-K accuracy with every film as a candidate: costly
            for metric in self.task.factorized_metrics:
                metric.update_state(queries, candidates)
        film_index = self.candidate_tower.lookup(features["item"])
        return in_batch_softmax_loss(queries, candidates, self.log_q, film_index,
                                     self.remove_accidental_hits)


def shuffled_batches(data: tf.data.Dataset, size: int, batch_size: int,
                     seed: int) -> tf.data.Dataset:
    """Training batches in a new order every epoch: the examples are cached, then shuffled,
    then batched (a cache after the shuffle would replay the first epoch's order for ever)."""
    return data.cache().shuffle(size, seed=seed, reshuffle_each_iteration=True).batch(batch_size)


def _interactions(frame: pd.DataFrame) -> tf.data.Dataset:
    return tf.data.Dataset.from_tensor_slices(
        {"user": _strings(frame["user"]), "item": _strings(frame["item"])})


class RetrievalRecommender(Recommender):
    """A two-tower retrieval model behind coursekit's interface.

    Trained on implicit feedback (which films a user rated, not how), with in-batch softmax:
    each batch's other films are the negatives. ``recommend`` queries a BruteForce index;
    users it never saw get the popularity list.

    The defaults were chosen on validation parts: 10% of the RETRIEVAL training data (top-100
    accuracy) and each user's second-latest film on TOPN (HR@10). The embedding penalty is
    applied once per step, so its strength goes with the batch size: batches of 1,024 with
    ``l2=0.05`` (the same penalty per epoch as 0.4 at 8,192) reached the accuracy of batches of
    8,192 in an eighth of the time. With the logQ correction, top-100 accuracy was 0.401,
    0.400, 0.403 and 0.399 after 2 to 5 epochs and HR@10 0.114, 0.108, 0.117 and 0.109;
    without it, 0.289 to 0.294 and 0.081 to 0.093. 4 epochs it is.
    """

    name = "two-tower retrieval"
    scores_are_ratings = False
    predicts_ratings = False  # its scores are dot products, not ratings

    def __init__(self, n_factors: int = 64, l2: float = 0.05, epochs: int = 4,
                 batch_size: int = 1024, learning_rate: float = 0.1, seed: int = 0,
                 sampling_correction: bool = False,
                 remove_accidental_hits: bool = False,
                 network_class: type[TwoTowerModel] = TwoTowerModel) -> None:
        super().__init__()
        self.network_class = network_class  # the chapter's model, or an edited copy
        self.n_factors, self.l2, self.epochs = n_factors, l2, epochs
        self.batch_size, self.learning_rate, self.seed = batch_size, learning_rate, seed
        self.sampling_correction = sampling_correction  # the logQ correction
        self.remove_accidental_hits = remove_accidental_hits

    def _fit(self, users, items, ratings, validation, verbose) -> None:
        tf.keras.utils.set_random_seed(self.seed)
        self.user_ids_ = _strings(self.users_.ids_)
        self.item_ids_ = _strings(self.items_.ids_)
        # each film's share of the training pairs, by vocabulary index (0: unknown ids)
        counts = np.bincount(items, minlength=len(self.item_ids_))
        self.log_q_ = np.log(np.concatenate([[1.0], counts]) / len(items))
        self.model_ = self._two_towers()
        train = pd.DataFrame({"user": self.users_.ids_[users], "item": self.items_.ids_[items]})
        data = shuffled_batches(_interactions(train), len(train), self.batch_size, self.seed)
        history = self.model_.fit(data, epochs=self.epochs, verbose=verbose)
        self.history_ = pd.DataFrame(history.history)
        self._build_index()

    def _two_towers(self) -> TwoTowerModel:
        log_q = self.log_q_ if self.sampling_correction else None
        model = self.network_class(self.user_ids_, self.item_ids_, self.n_factors, self.l2,
                                   log_q, self.remove_accidental_hits)
        model.compile(optimizer=tf.keras.optimizers.Adagrad(self.learning_rate))
        return model

    def _build_index(self) -> None:
        self.item_vectors_ = self.model_.candidate_tower(tf.constant(self.item_ids_)).numpy()
        k = min(100, len(self.item_ids_))  # a small catalogue has fewer than 100 films
        self.index_ = tfrs.layers.factorized_top_k.BruteForce(self.model_.query_tower, k=k)
        self.index_.index(tf.constant(self.item_vectors_), tf.constant(self.item_ids_))
        # Film to films: a second index whose queries are films. Both sides are the film's
        # embedding without its bias, scaled to length 1, so the score is a cosine.
        tower = self.model_.candidate_tower
        film_query = tf.keras.Sequential([
            tower.lookup, tower.embedding,
            tf.keras.layers.Lambda(lambda v: tf.math.l2_normalize(v, axis=1))])
        unit = tf.math.l2_normalize(self.item_vectors_[:, :-1], axis=1)
        self.item_index_ = tfrs.layers.factorized_top_k.BruteForce(film_query, k=k)
        self.item_index_.index(unit, tf.constant(self.item_ids_))

    def _rank_scores(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        queries = self.model_.query_tower(tf.constant(self.user_ids_[users])).numpy()
        return np.einsum("ij,ij->i", queries, self.item_vectors_[items])

    def _predict_known(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        return self._rank_scores(users, items).astype(np.float32)

    def evaluate_retrieval(self, frame: pd.DataFrame) -> dict[str, float]:
        """Factorized top-K categorical accuracy on (user, item) pairs, as the TFRS tutorials
        report it (every film is a candidate, seen ones included)."""
        self._check_fitted()
        result = self.model_.evaluate(_interactions(frame).batch(4096), return_dict=True,
                                      verbose=0)
        return {f"top-{k}": float(result[f"factorized_top_k/top_{k}_categorical_accuracy"])
                for k in KS}

    def query_index(self, user: int, k: int = 10, exclude_seen: bool = True) -> pd.DataFrame:
        """The BruteForce index's answer for one user: ``k`` films, seen ones excluded."""
        self._check_fitted()
        k = check_n(k)
        if user not in self.users_:
            return self.recommend(user, n=k)  # the popularity fallback, with its warning
        query = tf.constant(_strings([user]))
        seen = self.items_.ids_[self.seen_[self.users_.encode([user])[0]].indices]
        k = min(k, len(self.items_) - (len(seen) if exclude_seen else 0))
        if k == 0:
            return self._table(self.items_.ids_[:0], np.zeros(0), "BruteForce index")
        if exclude_seen and len(seen):
            scores, ids = self.index_.query_with_exclusions(
                query, tf.constant([_strings(seen)]), k=k)
        else:
            scores, ids = self.index_(query, k=k)
        items = _decoded(ids.numpy()[0], self.items_.ids_)
        return self._table(items, scores.numpy()[0], "BruteForce index")

    def similar_items(self, item: int, k: int = 10) -> pd.DataFrame:
        """Films closest to ``item`` (cosine of film embeddings), from the film-to-films
        BruteForce index; the film itself is left out."""
        self._check_fitted()
        k = min(check_n(k), len(self.items_) - 1)
        if item not in self.items_:
            raise UnknownIdError(f"Film {item} was not in the training data; it has no vector.")
        if k == 0:
            return self._table(self.items_.ids_[:0], np.zeros(0), "film to films")
        name = tf.constant(_strings([item]))
        scores, ids = self.item_index_.query_with_exclusions(name, tf.reshape(name, (1, 1)), k=k)
        items = _decoded(ids.numpy()[0], self.items_.ids_)
        return self._table(items, scores.numpy()[0], "film to films")

    def _unpicklable(self) -> set[str]:
        return {"model_", "index_", "item_index_"}

    def _save_extra(self, folder) -> None:
        tf.saved_model.save(self.index_, str(folder / "index"))
        self.model_.save_weights(str(folder / "towers" / "weights"))

    def _load_extra(self, folder) -> None:
        self.model_ = self._two_towers()
        self.model_.load_weights(str(folder / "towers" / "weights")).expect_partial()
        self._build_index()


def _decoded(names: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Raw ids back from the index's byte strings, in the type the training ids had."""
    text = np.array([n.decode() for n in names])
    return text.astype(np.int64) if np.issubdtype(ids.dtype, np.integer) else text


def load_index(folder) -> tf.Module:
    """The saved BruteForce index alone: call it with user ids as strings, get (scores, ids)."""
    return tf.saved_model.load(str(folder))


class RankingModel(tfrs.models.Model):
    """The explicit-rating ranking model of the TFRS ranking tutorial: user and movie towers,
    concatenated, into an MLP that predicts the rating; trained with a Ranking task (mean
    squared error)."""

    def __init__(self, user_ids: np.ndarray, item_ids: np.ndarray, dim: int = 32,
                 hidden: tuple[int, ...] = (256, 64), offset: float = 0.0) -> None:
        super().__init__()
        self.user_tower = tf.keras.Sequential([
            tf.keras.layers.StringLookup(vocabulary=user_ids, mask_token=None),
            tf.keras.layers.Embedding(len(user_ids) + 1, dim)])
        self.item_tower = tf.keras.Sequential([
            tf.keras.layers.StringLookup(vocabulary=item_ids, mask_token=None),
            tf.keras.layers.Embedding(len(item_ids) + 1, dim)])
        self.mlp = tf.keras.Sequential(
            [tf.keras.layers.Dense(width, activation="relu") for width in hidden]
            + [tf.keras.layers.Dense(1)])
        self.offset = offset
        self.task = tfrs.tasks.Ranking(loss=tf.keras.losses.MeanSquaredError(),
                                       metrics=[tf.keras.metrics.RootMeanSquaredError(
                                           name="rmse")])

    def call(self, features):
        joined = tf.concat([self.user_tower(features["user"]),
                            self.item_tower(features["item"])], axis=1)
        return self.mlp(joined) + self.offset

    def compute_loss(self, features, training=False):
        return self.task(labels=features["rating"], predictions=self(features))


class RankingRecommender(Recommender):
    """The ranking model behind coursekit's interface, for the RATING protocol.

    Trained by the course's routine (:func:`coursekit.models.training.refit.early_stop_then_refit`):
    early stopping on a validation part, then a fresh model on all training ratings.
    """

    name = "TFRS ranking"
    keeps_validation_predictions = True

    def __init__(self, n_factors: int = 32, epochs: int = 30, batch_size: int = 256,
                 learning_rate: float = 3e-4, patience: int = 2,
                 validation_fraction: float = 0.1, refit: bool = True, seed: int = 0) -> None:
        super().__init__()
        self.n_factors, self.epochs, self.batch_size = n_factors, epochs, batch_size
        self.validation_fraction, self.refit = validation_fraction, refit
        self.learning_rate, self.patience, self.seed = learning_rate, patience, seed

    def _network(self, offset: float) -> RankingModel:
        tf.keras.utils.set_random_seed(self.seed)
        model = RankingModel(self.user_ids_, self.item_ids_, self.n_factors, offset=offset)
        model.compile(optimizer=tf.keras.optimizers.Adam(self.learning_rate))
        return model

    def _data(self, users, items, ratings, shuffle: bool) -> tf.data.Dataset:
        data = tf.data.Dataset.from_tensor_slices({
            "user": self.user_ids_[users], "item": self.item_ids_[items],
            "rating": ratings.astype(np.float32)})
        if shuffle:
            return shuffled_batches(data, len(ratings), self.batch_size, self.seed)
        return data.batch(self.batch_size)

    def _fit(self, users, items, ratings, validation, verbose) -> None:
        self.user_ids_ = _strings(self.users_.ids_)
        self.item_ids_ = _strings(self.items_.ids_)

        def train(data, held, epochs: int):
            if held is not None:
                self.offset_ = float(data[2].mean())
            model = self._network(self.offset_)
            options: dict = {}
            if held is not None:
                options["validation_data"] = self._data(*held, shuffle=False)
                options["callbacks"] = [tf.keras.callbacks.EarlyStopping(
                    monitor="val_rmse", patience=self.patience, restore_best_weights=True)]
            history = model.fit(self._data(*data, shuffle=True), epochs=epochs,
                                verbose=verbose, **options)
            return model, history.history

        run = early_stop_then_refit(
            train, (users, items, ratings), validation, epochs=self.epochs,
            validation_fraction=self.validation_fraction, seed=self.seed, refit=self.refit,
            on_stopped=self._stopped)
        self.model_, self.history_ = run.model, run.history
        self.best_epoch_, self.epochs_trained_ = run.best_epoch, run.epochs_trained

    def _stopped(self, model, validation) -> None:
        """The early-stopped model's predictions of the validation ratings (for blends)."""
        self.model_ = model
        self._keep_validation_predictions(validation)

    def _predict_known(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        out = self.model_({"user": tf.constant(self.user_ids_[users]),
                           "item": tf.constant(self.item_ids_[items])})
        return out.numpy().reshape(-1).astype(np.float32)

    def _unpicklable(self) -> set[str]:
        return {"model_"}

    def _save_extra(self, folder) -> None:
        self.model_.save_weights(str(folder / "network" / "weights"))

    def _load_extra(self, folder) -> None:
        self.model_ = self._network(self.offset_)
        self.model_({"user": tf.constant(self.user_ids_[:1]),
                     "item": tf.constant(self.item_ids_[:1])})  # create the weights
        self.model_.load_weights(str(folder / "network" / "weights")).expect_partial()


__all__ = [
    "KerasVersionError", "RankingRecommender", "RetrievalRecommender", "TwoTowerModel",
    "load_index",
]
