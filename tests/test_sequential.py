"""The sequence models of chapter 10: training windows, time order, the causal mask, the
recent-item baseline against a hand computation, and clear errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from coursekit.errors import InvalidRatingsError
from coursekit.models.ranking.sequential import (
    PADDING,
    GRU4RecNet,
    RecentItemKNN,
    SASRec,
    SASRecNet,
    attention_mask,
    by_user,
    left_padded,
    training_windows,
)


def test_windows_cover_every_transition_once():
    sequence = np.arange(1, 13)  # 12 films: 11 transitions
    inputs, targets = training_windows([sequence], max_len=5)
    assert inputs.shape == targets.shape == (3, 5)
    pairs = {(int(i), int(t)) for row_in, row_t in zip(inputs, targets, strict=True)
             for i, t in zip(row_in, row_t, strict=True) if t != PADDING}
    assert pairs == {(k, k + 1) for k in range(1, 12)}
    assert (inputs[targets == PADDING] == PADDING).all()


def test_left_padding_keeps_the_latest_films():
    assert left_padded(np.array([4, 5, 6]), 5).tolist() == [0, 0, 4, 5, 6]
    assert left_padded(np.array([1, 2, 3, 4, 5, 6]), 3).tolist() == [4, 5, 6]


def test_by_user_keeps_the_given_order():
    users = np.array([1, 0, 1, 0, 1])
    items = np.array([9, 8, 7, 6, 5])
    assert [h.tolist() for h in by_user(users, items, 3)] == [[8, 6], [9, 7, 5], []]


@pytest.mark.parametrize("network_class", [SASRecNet, GRU4RecNet])
def test_a_position_never_sees_later_films(network_class):
    """The score at position t depends on the films up to t only (the causal mask for SASRec,
    the recurrence for GRU4Rec): changing the later films changes nothing before them."""
    import keras

    keras.utils.set_random_seed(0)
    network = network_class(20, 6, 8, 0.0)
    first = np.array([[0, 3, 4, 5, 6, 7]], dtype=np.int32)
    later_changed = np.array([[0, 3, 4, 9, 10, 11]], dtype=np.int32)
    a, b = np.asarray(network(first)), np.asarray(network(later_changed))
    assert a.shape == (1, 6, 20)
    np.testing.assert_allclose(a[:, :3], b[:, :3], atol=1e-5)
    assert not np.allclose(a[:, 3:], b[:, 3:])


def test_the_attention_mask_is_causal_and_never_onto_padding():
    mask = np.asarray(attention_mask(np.array([[0, 0, 3, 4], [1, 2, 3, 4]])))
    assert mask.shape == (2, 4, 4)
    np.testing.assert_array_equal(mask[1], np.tril(np.ones((4, 4), dtype=bool)))
    np.testing.assert_array_equal(mask[0, 3], [False, False, True, True])
    np.testing.assert_array_equal(mask[0, 2], [False, False, True, False])
    assert not mask[0, :2].any()  # padding positions see nothing; their output is zeroed


def test_sasrec_reads_the_same_films_alike_however_much_padding_precedes_them():
    """With the position embeddings set to zero, films 3, 4 after two pads and after one pad
    score alike: no attention goes to padding (unmasked, each pad would take a share)."""
    import keras

    keras.utils.set_random_seed(0)
    network = SASRecNet(20, 4, 8, 0.0)
    two_pads = np.array([[0, 0, 3, 4]], dtype=np.int32)
    network(two_pads)
    network.positions.embeddings.assign(np.zeros((4, 8), dtype="float32"))
    one_pad = np.array([[0, 3, 4, 7]], dtype=np.int32)
    np.testing.assert_allclose(np.asarray(network(two_pads))[0, 2:4],
                               np.asarray(network(one_pad))[0, 1:3], atol=1e-5)


SCALE = (1.0, 5.0)


def _table() -> pd.DataFrame:
    # user a: films 1, 2, 3 in time order (ids not in time order); b and c share films
    rows = [("a", 3, 10), ("a", 1, 20), ("a", 2, 30),
            ("b", 1, 10), ("b", 4, 20), ("c", 2, 10), ("c", 4, 20), ("c", 5, 30),
            ("d", 3, 10), ("d", 5, 20)]
    return pd.DataFrame(rows, columns=["user", "item", "timestamp"]).assign(rating=4.0)


def test_recent_item_knn_matches_a_hand_computation():
    table = _table()
    model = RecentItemKNN(n_recent=1).fit(table, rating_scale=SCALE)
    assert model.histories_[int(model.users_.encode(["a"])[0])].tolist() == list(
        model.items_.encode([3, 1, 2]))  # time order, not id order
    # a's latest film is 2, chosen by a and c; film 4 was chosen by b and c, film 5 by c and d
    chosen = table.groupby("item")["user"].apply(set)
    expected = {j: len(chosen[2] & chosen[j]) / np.sqrt(len(chosen[2]) * len(chosen[j]))
                for j in (4, 5)}
    scores = model.score(["a", "a"], [4, 5])
    np.testing.assert_allclose(scores, [expected[4], expected[5]], rtol=1e-6)
    top = model.recommend("a", n=2)
    assert set(top["item"]) == {4, 5}  # films a has seen are never recommended


def test_history_limit_changes_what_is_read_not_the_model():
    model = RecentItemKNN(n_recent=50).fit(_table(), rating_scale=SCALE)
    limited = model.with_history_limit(1)
    assert [h.size for h in limited.histories_] == [1, 1, 1, 1]
    assert [h.size for h in model.histories_] == [3, 2, 3, 2]
    assert limited.similarity_ is model.similarity_


def test_a_table_without_timestamps_gets_a_clear_error():
    table = _table().drop(columns="timestamp")
    with pytest.raises(InvalidRatingsError, match="timestamp"):
        RecentItemKNN().fit(table, rating_scale=SCALE)
    with pytest.raises(InvalidRatingsError, match="timestamp"):
        SASRec(epochs=1).fit(_table().assign(timestamp=np.nan), rating_scale=SCALE)


@pytest.mark.slow
def test_sasrec_learns_a_repeated_order():
    """Every user watches eight films of a row of 40 in the row's order, starting at different
    films, and one user has watched films 10 to 14: film 15 is among SASRec's two first films
    for that user (by chance, two of the 35 films left; early stopping keeps the first epoch
    whose validation HR@10 is best, and on a table this small HR@10 reaches 1 within a few
    epochs, before the order is learned to the last place)."""
    rows = [(f"u{u}", film, film) for u in range(60) for film in range(u % 32 + 1, u % 32 + 9)]
    rows += [("new", film, film) for film in range(10, 15)]
    table = pd.DataFrame(rows, columns=["user", "item", "timestamp"]).assign(rating=5.0)
    model = SASRec(epochs=30, dim=16, max_len=8, batch_size=16, learning_rate=1e-2,
                   patience=30).fit(table, rating_scale=SCALE)
    assert 15 in model.recommend("new", n=2)["item"].tolist()
