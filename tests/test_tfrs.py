"""The TFRS module: Keras versions in both import orders. (The models' contract is in
test_contract.py; the chapter's quality figures in quality/test_chapter_figures.py.)

Each runs in a fresh Python process, because which Keras backs tf.keras is decided once per
process.
"""

from __future__ import annotations

import os
import subprocess
import sys

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
ENV.pop("TF_USE_LEGACY_KERAS", None)


def run(code: str, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=ENV, timeout=timeout)


def test_importing_coursekit_tfrs_first_gives_tfrs_keras_2():
    result = run("import coursekit.models.retrieval.tfrs\nimport tensorflow as tf\n"
                 "import tensorflow_recommenders\nprint(tf.keras.__name__)")
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().startswith("tf_keras")


def test_keras_3_already_bound_gives_a_clear_error():
    result = run("import tensorflow as tf\n_ = tf.keras.layers.Dense\n"
                 "import coursekit.models.retrieval.tfrs")
    assert result.returncode != 0
    assert "KerasVersionError" in result.stderr
    assert "Restart the runtime" in result.stderr
    assert "import coursekit.models.retrieval.tfrs" in result.stderr


def test_standalone_keras_3_before_is_fine():
    result = run("import keras\nimport coursekit.models.retrieval.tfrs\nimport tensorflow as tf\n"
                 "print(keras.__version__.split('.')[0], tf.keras.__name__)")
    assert result.returncode == 0, result.stderr[-2000:]
    major, name = result.stdout.split()
    assert major == "3" and name.startswith("tf_keras")


def test_training_batches_come_in_a_new_order_every_epoch():
    result = run("import coursekit.models.retrieval.tfrs as ct\nimport tensorflow as tf\n"
                 "data = ct.shuffled_batches(tf.data.Dataset.range(64), 64, 8, seed=0)\n"
                 "epochs = [[int(x) for b in data for x in b] for _ in range(3)]\n"
                 "print(sorted(epochs[0]) == list(range(64)), len({tuple(e) for e in epochs}))")
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["True", "3"]


def test_the_written_out_loss_is_what_tfrs_retrieval_computes():
    result = run("""
import coursekit.models.retrieval.tfrs as ct
import numpy as np
import tensorflow as tf
import tensorflow_recommenders as tfrs

rng = np.random.default_rng(0)
q = tf.constant(rng.normal(size=(32, 5)), tf.float32)
c = tf.constant(rng.normal(size=(32, 5)), tf.float32)
films = tf.constant(rng.integers(0, 10, 32), tf.int32)  # many films appear twice
log_q = tf.math.log(tf.constant(rng.dirichlet(np.ones(10)), tf.float32))
prob = tf.exp(tf.gather(log_q, films))
cases = [
    (ct.in_batch_softmax_loss(q, c), tfrs.tasks.Retrieval()(q, c, compute_metrics=False)),
    (ct.in_batch_softmax_loss(q, c, log_q, films),
     tfrs.tasks.Retrieval()(q, c, candidate_sampling_probability=prob, compute_metrics=False)),
    (ct.in_batch_softmax_loss(q, c, None, films, True),
     tfrs.tasks.Retrieval(remove_accidental_hits=True)(q, c, candidate_ids=films,
                                                       compute_metrics=False)),
]
print(" ".join(f"{float(a):.6f}/{float(b):.6f}" for a, b in cases))
""")
    assert result.returncode == 0, result.stderr[-2000:]
    pairs = [pair.split("/") for pair in result.stdout.split()]
    assert len(pairs) == 3
    for ours, theirs in pairs:
        assert abs(float(ours) - float(theirs)) <= 1e-4 * abs(float(theirs))
    assert len({ours for ours, _ in pairs}) == 3  # each option changes the loss
