"""Id encoding round-trips and treats unseen ids on purpose."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from coursekit.data import IdEncoder
from coursekit.errors import UnknownIdError


@given(st.lists(st.integers(-10**9, 10**9), min_size=1, max_size=200))
def test_encode_then_decode_round_trips(ids):
    encoder = IdEncoder().fit(ids)
    indices = encoder.encode(ids)
    assert indices.min() >= 0 and indices.max() < len(encoder)
    assert np.array_equal(encoder.decode(indices), np.asarray(ids))
    assert len(encoder) == len(set(ids))


def test_indices_are_contiguous_in_id_order():
    encoder = IdEncoder("item").fit([50, 7, 50, 1000])
    assert encoder.encode([7, 50, 1000]).tolist() == [0, 1, 2]
    assert 50 in encoder and 8 not in encoder


def test_unknown_id_raises_a_helpful_error_or_is_masked():
    encoder = IdEncoder("user").fit([1, 2, 3])
    with pytest.raises(UnknownIdError, match=r"1 user id\(s\).*\[99\].*unknown='mask'"):
        encoder.encode([1, 99])
    assert encoder.encode([1, 99, 0, 4], unknown="mask").tolist() == [0, -1, -1, -1]


def test_decode_rejects_out_of_range_indices():
    encoder = IdEncoder().fit([10, 20])
    with pytest.raises(IndexError, match="out of range"):
        encoder.decode([2])
    with pytest.raises(IndexError):
        encoder.decode([-1])


def test_unfitted_and_empty_encoders_say_so():
    with pytest.raises(RuntimeError, match="not fitted"):
        IdEncoder().encode([1])
    with pytest.raises(ValueError, match="empty"):
        IdEncoder().fit([])
