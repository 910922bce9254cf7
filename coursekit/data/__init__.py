"""coursekit.data: MovieLens loading, id encoding, splits, sparse matrices and pipelines.

The TensorFlow pipelines (``interaction_dataset``, ``SparseRows``) are imported when first
used, so that ``import coursekit.data`` does not load TensorFlow.
"""

from coursekit.data.download import cache_dir, sha256_of
from coursekit.data.encoding import IdEncoder
from coursekit.data.movielens import MovieLens, load_movielens
from coursekit.data.registry import DATASETS, dataset_names
from coursekit.data.sparse import sparse_row_batches, to_csr
from coursekit.data.splits import (
    Split,
    global_time_split,
    hide_ratings,
    leave_last_out_split,
    random_split,
    rating_protocol,
    retrieval_protocol,
    stratified_split,
    topn_protocol,
    user_holdout_split,
)
from coursekit.data.synthetic import synthetic_movielens
from coursekit.data.validation import in_time_order, validate_ratings

__all__ = [
    "DATASETS", "IdEncoder", "MovieLens", "Split", "SparseRows", "cache_dir", "dataset_names",
    "global_time_split", "hide_ratings", "in_time_order", "interaction_dataset",
    "leave_last_out_split", "load_movielens", "random_split",
    "rating_protocol", "retrieval_protocol", "sha256_of", "sparse_row_batches",
    "stratified_split", "synthetic_movielens", "to_csr", "topn_protocol", "user_holdout_split",
    "validate_ratings",
]


def __getattr__(name: str):
    if name in ("interaction_dataset", "SparseRows"):
        from coursekit.data import pipelines

        return getattr(pipelines, name)
    raise AttributeError(f"module 'coursekit.data' has no attribute {name!r}")
