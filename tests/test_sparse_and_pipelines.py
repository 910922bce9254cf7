"""Sparse matrices and tf.data pipelines built from a split."""

from __future__ import annotations

import numpy as np
import pytest

from coursekit import data as ckd
from coursekit.errors import UnknownIdError


def test_csr_holds_exactly_the_training_ratings(ml100k):
    split = ckd.rating_protocol(ml100k)
    matrix = ckd.to_csr(split.train, split.users, split.items)
    assert matrix.shape == (943, split.train["item"].nunique())
    assert matrix.nnz == len(split.train)
    row = split.train.iloc[123]
    value = matrix[split.users.encode([row["user"]])[0], split.items.encode([row["item"]])[0]]
    assert value == row["rating"]


def test_csr_of_test_data_drops_or_rejects_unknown_items(ml100k):
    split = ckd.rating_protocol(ml100k)
    with pytest.raises(UnknownIdError):
        ckd.to_csr(split.test, split.users, split.items)
    matrix = ckd.to_csr(split.test, split.users, split.items, unknown="drop")
    assert matrix.nnz == split.test["item"].isin(split.train["item"]).sum()


def test_row_batches_rebuild_the_matrix_one_bounded_block_at_a_time(ml100k):
    split = ckd.rating_protocol(ml100k)
    matrix = ckd.to_csr(split.train, split.users, split.items)
    blocks = list(ckd.sparse_row_batches(matrix, batch_size=100, shuffle=False))
    assert max(b.shape[0] for b in blocks) == 100
    assert np.array_equal(np.vstack(blocks), matrix.toarray())
    shuffled = list(ckd.sparse_row_batches(matrix, batch_size=100, seed=1))
    assert np.isclose(sum(b.sum() for b in shuffled), matrix.sum())


def test_interaction_dataset_yields_encoded_pairs_and_centred_targets(ml100k):
    split = ckd.rating_protocol(ml100k)
    dataset = ckd.interaction_dataset(split.train, split.users, split.items, batch_size=512,
                                      shuffle=False, offset=3.5)
    features, target = next(iter(dataset))
    assert features["user"].shape == (512,) and features["item"].dtype.name == "int32"
    expected = split.train["rating"].to_numpy()[:512] - 3.5
    assert np.allclose(target.numpy(), expected)
    assert features["user"].numpy().max() < len(split.users)
    n = sum(int(t.shape[0]) for _, t in dataset)
    assert n == len(split.train)
