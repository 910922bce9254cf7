"""Evaluation: the metrics as plain functions over arrays and frames (:mod:`.metrics`), top-N
lists for every user and their measures (:mod:`.topn`), one evaluation per protocol
(:func:`evaluate`, :mod:`.protocols`), and confidence intervals and paired comparisons
(:mod:`.intervals`).

    from coursekit.evaluation import evaluate, metrics
    evaluate(model, split, "RATING")   # RMSE, MAE
"""

from coursekit.evaluation import intervals, metrics, topn
from coursekit.evaluation.protocols import TOPN_COLUMNS, Protocol, evaluate

__all__ = ["TOPN_COLUMNS", "Protocol", "evaluate", "intervals", "metrics", "topn"]
