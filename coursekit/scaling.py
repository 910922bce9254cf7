"""Measuring training speed (chapter 14): an epoch timer and a profile of one training step.

    timer = EpochTimer()
    MatrixFactorization(epochs=1, callbacks=[timer]).fit(split)
    timer.seconds                      # training seconds of each epoch, validation excluded

    profile_train_step(network, x, y)  # milliseconds per step: overhead, gradients, optimizer
"""

from __future__ import annotations

import time

import keras
import tensorflow as tf


class EpochTimer(keras.callbacks.Callback):
    """A Keras 3 callback timing each training epoch, validation excluded.

    ``steady_seconds`` holds each epoch's time without its first ``warmup`` batches (which
    trace and compile the step in the first epoch), scaled to the whole epoch: the speed of
    the compiled step, comparable with a later epoch's. With ``max_batches`` it stops training
    after ``warmup + max_batches`` batches and scales the steady-state time per batch to a
    whole epoch; ``extrapolated`` is then True. Use it when a whole epoch would take too long
    to wait for.
    """

    def __init__(self, warmup: int = 20, max_batches: int | None = None) -> None:
        super().__init__()
        self.warmup, self.max_batches = warmup, max_batches
        self.seconds: list[float] = []
        self.steady_seconds: list[float] = []
        self.extrapolated = False
        self.batches_per_epoch: int | None = None
        self._start = self._trained = self._steady = None
        self._batches = 0  # batches trained so far in this epoch

    def on_train_begin(self, logs=None) -> None:
        self.batches_per_epoch = self.params.get("steps")

    def on_epoch_begin(self, epoch, logs=None) -> None:
        self._start, self._trained, self._steady = time.perf_counter(), None, None
        self._batches = 0

    def on_train_batch_begin(self, batch, logs=None) -> None:
        if batch == self.warmup:
            self._steady = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None) -> None:
        self._batches = batch + 1
        if self.max_batches is not None and batch + 1 == self.warmup + self.max_batches:
            per_batch = (time.perf_counter() - self._steady) / self.max_batches
            self._trained = self._start + per_batch * self.batches_per_epoch
            self.extrapolated = True
            self.model.stop_training = True

    def on_test_begin(self, logs=None) -> None:  # validation closes the epoch
        if self._start is not None and self._trained is None:
            self._trained = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None) -> None:
        end = self._trained or time.perf_counter()
        self.seconds.append(end - self._start)
        if self.extrapolated:
            self.steady_seconds.append(self.seconds[-1])
        elif self._steady is not None and self._batches > self.warmup:
            steady = self._batches - self.warmup  # batches after the warm-up
            self.steady_seconds.append((end - self._steady) * self._batches / steady)
        else:  # too few batches to leave a warm-up out
            self.steady_seconds.append(self.seconds[-1])
        self._start = None


def _milliseconds(step, repeats: int) -> float:
    step()  # trace and warm up
    step()
    started = time.perf_counter()
    for _ in range(repeats):
        step()
    return (time.perf_counter() - started) / repeats * 1e3


def profile_train_step(network, x, y, repeats: int = 50) -> dict[str, float]:
    """Milliseconds per training step of a compiled Keras 3 ``network`` on one batch
    ``(x, y)``, split into where the time goes:

    - ``forward + gradients``: the loss and its gradients (one compiled function);
    - ``optimizer update``: applying those gradients (the same optimizer, compiled alone);
    - ``Keras overhead``: the rest of a ``fit`` step (``train_on_batch``: metrics, callbacks,
      moving the batch in), what remains of the whole step after the two parts above.

    The network's weights change while it is measured (the optimizer really steps).
    """

    x, y = tf.constant(x), tf.constant(y, tf.float32)
    network(x)  # build the weights of a subclassed model before listing them
    variables = network.trainable_variables

    @tf.function
    def gradients():
        with tf.GradientTape() as tape:
            predictions = network(x, training=True)
            loss = tf.reduce_mean(tf.square(predictions - y))
            if network.losses:
                loss += tf.add_n(network.losses)
        return tape.gradient(loss, variables)

    grads = gradients()

    @tf.function
    def update():
        network.optimizer.apply(grads, variables)

    whole = _milliseconds(lambda: network.train_on_batch(x, y), repeats)
    forward = _milliseconds(lambda: gradients(), repeats)
    optimizer = _milliseconds(update, repeats)
    return {"forward + gradients": forward, "optimizer update": optimizer,
            "Keras overhead": max(whole - forward - optimizer, 0.0), "whole step": whole}
