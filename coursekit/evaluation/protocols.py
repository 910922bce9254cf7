"""One evaluation per protocol, for any model of the course (the metrics themselves are the
plain functions of :mod:`coursekit.evaluation.metrics` and :mod:`coursekit.evaluation.topn`).

    evaluate(model, split, "RATING")     # RMSE, MAE (the rating models)
    evaluate(model, split, "TOPN")       # HR@10, NDCG@10, coverage, novelty
    evaluate(model, split, "RETRIEVAL")  # top-K accuracy, K in 1, 5, 10, 50, 100
"""

from __future__ import annotations

from typing import Literal

from coursekit.data.splits import Split
from coursekit.evaluation import metrics, topn
from coursekit.models.base import Recommender

Protocol = Literal["RATING", "TOPN", "RETRIEVAL"]
TOPN_COLUMNS = ("HR@10", "NDCG@10", "catalog coverage", "novelty (bits)")


def evaluate(model: Recommender, split: Split, protocol: Protocol) -> dict[str, float]:
    """The figures ``protocol`` reports for a model fitted on ``split.train``."""
    if protocol == "RATING":
        return metrics.evaluate_ratings(model, split.test)
    if protocol == "TOPN":
        scores = topn.evaluate_top_n(model.recommend_all(n=10), split)
        return {k: scores[k] for k in TOPN_COLUMNS}
    if protocol == "RETRIEVAL":
        # FactorizedTopK's definition: every film is a candidate, seen ones included.
        lists = model.recommend_all(n=100, users=split.test["user"].unique(),
                                    exclude_seen=False)
        return metrics.top_k_accuracy(split.test, lists)
    raise ValueError(f"protocol must be 'RATING', 'TOPN' or 'RETRIEVAL', not {protocol!r}")
