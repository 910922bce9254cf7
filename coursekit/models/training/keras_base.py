"""Training Keras 3 rating models behind coursekit's interface (chapters 3 and 4).

A :class:`KerasRecommender` builds a network and trains it by the course's one routine
(:func:`coursekit.models.training.refit.early_stop_then_refit`): early stopping on a validation
part of the training data, then, with ``refit=True``, a fresh network on training plus
validation data for the chosen number of epochs.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal

import keras
import numpy as np
import scipy.sparse as sp
import tensorflow as tf

from coursekit.models.base import Recommender
from coursekit.models.training.refit import early_stop_then_refit

PREDICT_BATCH = 65_536
# Training steps Keras runs per call into the compiled graph when it reads a finite tf.data
# pipeline: the same updates in the same order, with less Python between small steps
# (matrix factorization trains twice as fast). Models trained on arrays (:func:`fit_arrays`)
# run a whole epoch per call.
STEPS_PER_EXECUTION = 32


def build_training_state(network: keras.Model, x, y=None) -> None:
    """Create, from one example batch ``x`` (with its targets ``y`` when the network was
    compiled with a loss), every variable a compiled ``network``'s first ``fit`` would create:
    its layers' weights, its loss's and metrics' state, its optimizer's slots. Keras otherwise
    creates them while tracing the training step, and TensorFlow then traces that step a
    second time, which costs about half a second per network."""
    predictions = network(x, training=False)
    if y is not None:
        network.compute_loss(x, y, predictions, training=False)
        network.compute_metrics(x, y, predictions)
        network.reset_metrics()
    network.optimizer.build(network.trainable_variables)


def batches_per_epoch(n_examples: int, batch_size: int) -> int:
    """How many batches of ``batch_size`` one epoch over ``n_examples`` takes (the last one
    may be partial; at least one)."""
    return max(1, math.ceil(n_examples / batch_size))


def epoch_batches(arrays: Sequence[np.ndarray], batch_size: int, seed: int,
                  shuffle: bool | Literal["batch"] = True) -> tuple[tf.data.Dataset, int]:
    """Training batches of ``arrays`` (inputs, targets and perhaps sample weights, one row per
    example) for every epoch, as one tf.data pipeline that never ends, and the number of
    batches in an epoch (Keras fit's ``steps_per_epoch``).

    ``shuffle=True`` draws a new order of the examples every epoch, from ``seed`` and the
    epoch's number; ``"batch"`` keeps the examples where they are and draws a new order of
    the batches (for data shuffled once beforehand, when reordering every example would cost
    too much); ``False`` keeps the order. Keras' own ``fit(x, y, shuffle=True)`` would build
    a new pipeline every epoch, which costs about 10 ms, and after
    ``keras.utils.set_random_seed`` it draws the same order every epoch."""
    n = len(arrays[0])
    steps = batches_per_epoch(n, batch_size)
    limits = np.minimum(np.arange(1, steps + 1) * batch_size, n)
    tensors = tuple(tf.constant(array) for array in arrays)

    def batches_of(epoch):
        rows = tf.range(n, dtype=tf.int64)
        seeds = tf.stack([tf.constant(seed, tf.int64), epoch])
        if shuffle is True:
            rows = tf.random.experimental.stateless_shuffle(rows, seed=seeds)
        batches = tf.RaggedTensor.from_row_limits(rows, limits)
        if shuffle == "batch":
            order = tf.random.experimental.stateless_shuffle(
                tf.range(steps, dtype=tf.int64), seed=seeds)
            batches = tf.gather(batches, order)
        return tf.data.Dataset.from_tensor_slices(batches)

    data = tf.data.Dataset.range(np.iinfo(np.int64).max).flat_map(batches_of)
    data = data.map(lambda rows: tuple(tf.gather(tensor, rows) for tensor in tensors))
    # Without autotuning: its thread, working on a pipeline that never ends, could hold up
    # the end of fit for seconds.
    options = tf.data.Options()
    options.autotune.enabled = False
    return data.prefetch(2).with_options(options), steps


def fixed_batches(arrays: Sequence[np.ndarray], batch_size: int) -> tf.data.Dataset:
    """``arrays`` in batches of ``batch_size``, in order, as a tf.data pipeline without
    functions, which Keras can start again at every evaluation for almost nothing."""
    n, full = len(arrays[0]), len(arrays[0]) // batch_size
    cut = full * batch_size
    data = tf.data.Dataset.from_tensor_slices(tuple(
        np.reshape(array[:cut], (full, batch_size, *np.shape(array)[1:])) for array in arrays))
    if cut < n:
        data = data.concatenate(tf.data.Dataset.from_tensors(
            tuple(array[cut:] for array in arrays)))
    return data


def fit_arrays(network: keras.Model, arrays: Sequence[np.ndarray], *, epochs: int,
               batch_size: int, seed: int, shuffle: bool | Literal["batch"] = True,
               validation: Sequence[np.ndarray] | None = None,
               validation_batch_size: int = PREDICT_BATCH, callbacks: Sequence = (),
               verbose: int = 0) -> keras.callbacks.History:
    """Keras fit of a compiled ``network`` on in-memory ``arrays`` (inputs, targets, and
    perhaps sample weights), in :func:`epoch_batches`, with ``validation`` arrays scored
    after every epoch: how the rating models, the feature models and chapter 13's ranker are
    fitted. A network compiled with ``steps_per_execution`` above 1 must take exactly one
    epoch per call (:meth:`KerasRecommender._compiled_network`)."""
    batches, steps = epoch_batches(arrays, batch_size, seed, shuffle)
    if network.steps_per_execution not in (1, steps):
        raise ValueError(f"the network runs {network.steps_per_execution} steps per call; "
                         f"compile it with 1 or with the epoch's {steps} batches")
    options: dict = {}
    if validation is not None:
        options["validation_data"] = fixed_batches(validation, validation_batch_size)
    return network.fit(batches, epochs=epochs, steps_per_epoch=steps, shuffle=False,
                       verbose=verbose, callbacks=list(callbacks), **options)


def index_pairs(users: np.ndarray, items: np.ndarray) -> np.ndarray:
    """Encoded users and films as a network's input: one (user, film) row per pair."""
    return np.stack([users, items], 1).astype(np.int32)


class EpochProgress(keras.callbacks.Callback):
    """A Keras callback that shows a progress bar over the epochs (``verbose=1``), with the
    last epoch's figures beside it, instead of a line per epoch. The bar goes to standard
    error, as progress does: Colab and Jupyter show it while the model trains, and the
    course's pages leave it out."""

    SHOWN = ("loss", "rmse", "val_rmse", "val_loss", "val_hr@10")

    def __init__(self, label: str) -> None:
        super().__init__()
        self.label = label
        self.bar = None

    def on_train_begin(self, logs: dict | None = None) -> None:
        from tqdm.auto import tqdm

        # every epoch is drawn (an epoch is never too short to show)
        self.bar = tqdm(total=self.params.get("epochs"), desc=self.label, unit="epoch",
                        leave=False, mininterval=0)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if self.bar is not None:
            self.bar.set_postfix({k: f"{v:.4f}" for k, v in (logs or {}).items()
                                  if k in self.SHOWN})
            self.bar.update(1)

    def on_train_end(self, logs: dict | None = None) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class ValidationHitRate(keras.callbacks.Callback):
    """After each epoch, the validation HR@10 of a ranking model: the share of validation
    films among the ten best-scored films their user has not seen (``val_hr@10`` in the logs
    and history). ``scores_of(network)`` scores every film (encoded items) for each
    validation example; ``seen`` holds, row by row, the films to leave out of its list."""

    def __init__(self, scores_of: Callable[[keras.Model], np.ndarray], targets: np.ndarray,
                 seen: sp.csr_matrix, k: int = 10) -> None:
        super().__init__()
        self.scores_of, self.targets, self.seen, self.k = scores_of, targets, seen, k

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        scores = self.scores_of(self.model)
        scores[np.repeat(np.arange(self.seen.shape[0]), np.diff(self.seen.indptr)),
               self.seen.indices] = -np.inf
        target_scores = scores[np.arange(self.targets.size), self.targets]
        rank = (scores > target_scores[:, None]).sum(1)
        if logs is not None:
            logs["val_hr@10"] = float((rank < self.k).mean())


def hit_rate_early_stopping(
    scores_of: Callable[[keras.Model], np.ndarray], train_users: np.ndarray,
    train_items: np.ndarray, validation: tuple[np.ndarray, np.ndarray, np.ndarray],
    shape: tuple[int, int], patience: int, label: str | None,
) -> list[keras.callbacks.Callback]:
    """The callbacks that early-stop a ranking network on its validation HR@10 and keep its
    best epoch's weights: :class:`ValidationHitRate`, which leaves each validation user's
    training films (``train_users``, ``train_items``, encoded, in a users x films ``shape``)
    out of their list, and Keras' ``EarlyStopping`` on what it writes."""
    val_users, val_items, _ = validation
    seen = sp.csr_matrix((np.ones(train_users.size), (train_users, train_items)),
                         shape=shape)[val_users].tocsr()
    progress = [EpochProgress(label)] if label else []  # after the hit rate: it shows it
    return [ValidationHitRate(scores_of, val_items, seen),
            keras.callbacks.EarlyStopping(monitor="val_hr@10", mode="max", patience=patience,
                                          restore_best_weights=True), *progress]


WEIGHTS_FILE = "network.weights.h5"


class TrainedNetwork:
    """What every model that trains one Keras network shares, written once: the course's
    routine (:func:`early_stop_then_refit`) run on the model's ``_train`` and kept as
    ``network_``, ``history_``, ``best_epoch_`` and ``epochs_trained_``; and the network's
    weights saved beside the model and read back into a network rebuilt at the fitted shape
    (``_restored_network``, which the model provides). Mixed in before :class:`Recommender`."""

    network_: keras.Model

    def _run_routine(self, train: Callable, data: tuple, validation: tuple | None,
                     **routine) -> None:
        """``train(data, validation, epochs) -> (network, history)`` through the routine, with
        the model's epochs, seed and refit, and ``routine``'s other settings."""
        run = early_stop_then_refit(train, data, validation, epochs=self.epochs,
                                    seed=self.seed, refit=self.refit, **routine)
        self.network_, self.history_ = run.model, run.history
        self.best_epoch_, self.epochs_trained_ = run.best_epoch, run.epochs_trained

    def _restored_network(self) -> keras.Model:
        """A fresh network of the fitted model's shape, its weights created (to load into)."""
        raise NotImplementedError

    def _unpicklable(self) -> set[str]:
        return {"network_"}

    def _save_extra(self, folder: Path) -> None:
        self.network_.save_weights(folder / WEIGHTS_FILE)

    def _load_extra(self, folder: Path) -> None:
        self.network_ = self._restored_network()
        with warnings.catch_warnings():  # the optimizer's state is not needed to predict
            warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
            self.network_.load_weights(folder / WEIGHTS_FILE)


class KerasRecommender(TrainedNetwork, Recommender):
    """Base of the Keras models: subclasses provide ``build_network``, which builds
    ``network_class`` (the chapter's network by default; a chapter's edited copy of it, or a
    class of one's own with the same constructor, trains through the same wrapper)."""

    center: bool = False  # train on ratings minus the training mean
    # a new order of the ratings every epoch, or of the batches ("batch", see fast_mf)
    shuffle: bool | Literal["batch"] = True
    monitor: str = "val_rmse"  # what early stopping watches (lower is better)
    keeps_validation_predictions = True

    def __init__(
        self,
        network_class: type,
        epochs: int = 60,
        batch_size: int = 128,
        learning_rate: float = 5e-4,
        optimizer: Literal["adam", "sgd"] = "adam",
        momentum: float = 0.9,
        patience: int = 3,
        validation_fraction: float = 0.1,
        refit: bool = True,
        seed: int = 0,
        tensorboard_dir: str | Path | None = None,
        callbacks: list | tuple = (),
    ) -> None:
        super().__init__()
        self.network_class = network_class
        self.epochs, self.batch_size = epochs, batch_size
        self.learning_rate, self.optimizer, self.momentum = learning_rate, optimizer, momentum
        self.patience, self.validation_fraction = patience, validation_fraction
        self.refit, self.seed = refit, seed
        self.tensorboard_dir = None if tensorboard_dir is None else str(tensorboard_dir)
        self.callbacks = list(callbacks)  # more Keras callbacks for every fit

    # --- subclasses ------------------------------------------------------------------------
    def build_network(self, n_users: int, n_items: int):  # -> keras.Model
        raise NotImplementedError

    # --- training --------------------------------------------------------------------------
    def _make_optimizer(self):
        if self.optimizer == "adam":
            return keras.optimizers.Adam(self.learning_rate)
        if self.optimizer == "sgd":
            return keras.optimizers.SGD(self.learning_rate, momentum=self.momentum)
        raise ValueError(f"optimizer must be 'adam' or 'sgd', not {self.optimizer!r}")

    def _compiled_network(self, x: np.ndarray, y: np.ndarray):
        """A fresh network, seeded, compiled to train on ``(x, y)`` one epoch per call into
        the compiled graph (:func:`fit_arrays`), and built on their first example."""
        keras.utils.set_random_seed(self.seed)
        network = self.build_network(len(self.users_), len(self.items_))
        # One step per call with callbacks of one's own (timers), so that they see every
        # batch, and under tf.distribute strategies (chapter 14), where Keras also builds the
        # network itself before the first step.
        distributed = tf.distribute.has_strategy()
        steps = 1 if self.callbacks or distributed else batches_per_epoch(len(x), self.batch_size)
        loss, metrics = self._loss_and_metrics()
        network.compile(optimizer=self._make_optimizer(), loss=loss, metrics=metrics,
                        steps_per_execution=steps)
        if not distributed:
            build_training_state(network, x[:1], y[:1])
        return network

    def _loss_and_metrics(self) -> tuple:
        """The training loss and the metrics Keras reports: squared error and RMSE."""
        return "mse", [keras.metrics.RootMeanSquaredError(name="rmse")]

    def _fit(self, users, items, ratings, validation, verbose) -> None:
        self._run_routine(lambda data, held, epochs: self._train(data, held, epochs, verbose),
                          (users, items, ratings), validation,
                          validation_fraction=self.validation_fraction, monitor=self.monitor,
                          on_stopped=self._stopped)

    def _stopped(self, network, validation) -> None:
        """The early-stopped network's predictions of the validation ratings (for blends);
        on the click task there are no ratings to predict."""
        if self.predicts_ratings:
            self.network_ = network
            self._keep_validation_predictions(validation)

    def _train(self, data, validation, epochs: int, verbose: int):
        """A fresh network trained for ``epochs`` (early-stopped when ``validation`` is
        given); the centring offset is the mean of the early-stopped run's ratings."""
        users, items, ratings = data
        if validation is not None:
            self.offset_ = float(ratings.mean()) if self.center else 0.0
        x, y = np.stack([users, items], 1), ratings - self.offset_
        callbacks: list = []
        held = None
        if validation is not None:
            callbacks.append(keras.callbacks.EarlyStopping(
                monitor="val_rmse", patience=self.patience, restore_best_weights=True))
            if self.tensorboard_dir:
                callbacks.append(keras.callbacks.TensorBoard(log_dir=self.tensorboard_dir))
            if verbose:
                callbacks.append(EpochProgress(self.name))
            held = (np.stack([validation[0], validation[1]], 1),
                    validation[2] - self.offset_)
        network = self._compiled_network(x, y)
        fitted = fit_arrays(network, (x, y), epochs=epochs, batch_size=self.batch_size,
                            seed=self.seed, shuffle=self.shuffle, validation=held,
                            callbacks=callbacks + self.callbacks)
        return network, fitted.history

    def _predict_known(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        x = index_pairs(users, items)
        out = [np.asarray(self.network_(x[k:k + PREDICT_BATCH], training=False)).reshape(-1)
               for k in range(0, len(x), PREDICT_BATCH)]
        return (np.concatenate(out) if out else np.zeros(0)).astype(np.float32) + self.offset_

    # --- persistence -----------------------------------------------------------------------
    def _unpicklable(self) -> set[str]:
        return super()._unpicklable() | {"callbacks"}

    def _restored_network(self) -> keras.Model:
        self.callbacks = []
        network = self.build_network(len(self.users_), len(self.items_))
        network(np.zeros((1, 2), dtype=np.int32))  # create the weights
        return network
