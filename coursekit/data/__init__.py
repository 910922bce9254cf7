"""coursekit.data: MovieLens loading, id encoding, splits, sparse matrices and pipelines."""

from .download import cache_dir, sha256_of
from .encoding import IdEncoder
from .movielens import MovieLens, load_movielens
from .registry import DATASETS, dataset_names
from .sparse import interaction_dataset, sparse_row_batches, to_csr
from .splits import (
    Split,
    hide_ratings,
    leave_last_out_split,
    random_split,
    rating_protocol,
    retrieval_protocol,
    stratified_split,
    topn_protocol,
    user_holdout_split,
)
from .synthetic import synthetic_movielens
from .validation import validate_ratings

__all__ = [
    "DATASETS", "IdEncoder", "MovieLens", "Split", "cache_dir", "dataset_names", "hide_ratings",
    "interaction_dataset", "leave_last_out_split", "load_movielens", "random_split",
    "rating_protocol", "retrieval_protocol", "sha256_of", "sparse_row_batches",
    "stratified_split", "synthetic_movielens", "to_csr", "topn_protocol", "user_holdout_split",
    "validate_ratings",
]
