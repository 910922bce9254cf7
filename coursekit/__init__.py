"""coursekit: the package behind the course Deep Learning Recommender Systems with TensorFlow.

Each chapter's code has one home here: ``coursekit.data`` (chapter 1: loading MovieLens,
encoding ids, splits and protocols, sparse matrices, tf.data pipelines, synthetic data at
scale) and ``coursekit.plots`` (the figures the chapters draw).
"""

from __future__ import annotations

import os

# Turn down TensorFlow's C++ logging for every chapter that imports coursekit first. (The
# start-up notices printed before absl's logging is set up only obey the variable when it is
# set before Python starts, as the Makefile does.) A value the user set is kept.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from coursekit import errors  # noqa: E402

__version__ = "0.3.0"
__all__ = ["errors", "in_colab", "__version__"]


def in_colab() -> bool:
    """True when running inside Google Colab."""
    import sys

    return "google.colab" in sys.modules
