"""coursekit: the package behind the course Deep Learning Recommender Systems with TensorFlow.

Its folders follow the course: ``coursekit.data`` (loading MovieLens, your own tables, splits
and protocols, sparse rows, pipelines, synthetic data at scale), ``coursekit.evaluation``
(metrics, top-N lists, one evaluation per protocol, intervals and paired comparisons),
``coursekit.models`` (one interface; rating prediction, ranking, retrieval, and the training
machinery they share), and ``coursekit.plots``, ``coursekit.scaling`` and
``coursekit.leaderboard`` for the figures, the speed measurements and the benchmark results.
"""

from __future__ import annotations

import os

# Turn down TensorFlow's C++ logging for every chapter that imports coursekit first. (The
# start-up notices printed before absl's logging is set up only obey the variable when it is
# set before Python starts, as the Makefile does.) A value the user set is kept.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from coursekit import errors  # noqa: E402

__version__ = "0.4.0"
__all__ = ["errors", "__version__"]

