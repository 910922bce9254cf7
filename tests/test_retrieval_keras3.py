"""Chapter 12's two-tower retrieval in Keras 3: the loss against the sum written out, keras-rs's
accidental-hit layer (which removes nothing in 0.4), the coded features, films placed by their
features, and clear errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from keras import ops

from coursekit.data.features import TowerFeatures
from coursekit.errors import UnknownIdError
from coursekit.models.checks import contract_split
from coursekit.models.retrieval.two_tower import TwoTowerRetrieval, in_batch_softmax_loss

QUICK = {"epochs": 2, "dim": 8, "batch_size": 64}


def _written_out(queries, candidates, films, probability, remove_hits):
    logits = queries @ candidates.T
    if probability is not None:
        logits = logits - np.log(probability[films])[None, :]
    total = 0.0
    for j in range(len(films)):
        kept = (films != films[j]) | (np.arange(len(films)) == j) if remove_hits else slice(None)
        total += np.log(np.exp(logits[j][kept]).sum()) - logits[j, j]
    return total


@pytest.mark.parametrize("correction, remove_hits", [(False, False), (True, False),
                                                     (False, True), (True, True)])
def test_the_loss_is_the_softmax_written_out(correction, remove_hits):
    rng = np.random.default_rng(3)
    queries, candidates = rng.normal(size=(7, 5)), rng.normal(size=(7, 5))
    films = np.array([2, 1, 2, 4, 2, 0, 4])
    probability = rng.dirichlet(np.ones(5)) if correction else None
    loss = in_batch_softmax_loss(
        ops.convert_to_tensor(queries, "float32"), ops.convert_to_tensor(candidates, "float32"),
        ops.convert_to_tensor(films),
        None if probability is None else ops.convert_to_tensor(probability, "float32"),
        remove_hits)
    assert float(loss) == pytest.approx(
        _written_out(queries, candidates, films, probability, remove_hits), rel=1e-5)


def test_keras_rs_remove_accidental_hits_changes_nothing_in_this_version():
    """Why the loss masks accidental hits itself: when keras-rs's layer is fixed, this test
    fails, and the chapter's paragraph about it must change."""
    import keras_rs

    logits = np.array([[1.0, 2.0, 3.0, 4.0]], dtype="float32")
    labels = np.array([[0.0, 0.0, 1.0, 0.0]], dtype="float32")
    after = keras_rs.layers.RemoveAccidentalHits()(logits, labels, np.array([7, 5, 7, 8]))
    assert np.array_equal(ops.convert_to_numpy(after), logits)


def test_features_are_coded_with_zero_for_unknown():
    split = contract_split()
    features = TowerFeatures(split.dataset)
    users = features.users(["u01", "no-such-user"])
    assert users["age"][1] == users["gender"][1] == users["occupation"][1] == 0
    assert (users["age"][:1] > 0).all() and users["gender"][0] in (1, 2)
    items = features.items([100, 99999])
    assert items["genres"].shape == (2, len(features.genres))
    assert items["genres"][0].sum() == 2 and items["genres"][1].sum() == 0
    assert items["year"][1] == 0 and 0 < items["year"][0] < features.sizes["year"]


def test_features_refuse_a_dataset_without_users():
    split = contract_split()
    dataset = split.dataset
    dataset_without = type(dataset)(name="x", ratings=dataset.ratings, items=dataset.items,
                                     users=None, rating_scale=dataset.rating_scale)
    with pytest.raises(ValueError, match="no users' or films' table"):
        TowerFeatures(dataset_without)


def test_features_need_a_split_with_its_dataset():
    table = contract_split().train
    with pytest.raises(ValueError, match="features=True reads the users' and films' tables"):
        TwoTowerRetrieval(features=True, **QUICK).fit(table)


def test_new_films_are_placed_by_their_features():
    split = contract_split()
    items = split.dataset.items.set_index("item")
    first = items.index[0]
    second = next(i for i in items.index if items.at[i, "genres"] != items.at[first, "genres"])
    train = split.train[~split.train["item"].isin([first, second])]
    without = type(split)(train, split.test, name="without two films",
                          rating_scale=split.rating_scale, dataset=split.dataset)
    model = TwoTowerRetrieval(features=True, id_dropout=0.3, **QUICK).fit(without)
    vectors = model.item_vectors([first, second])
    assert vectors.shape == (2, 9) and np.isfinite(vectors).all()
    # the ids-only model gives every new film the unknown row; features tell these two apart
    assert not np.allclose(vectors[0], vectors[1])
    with pytest.raises(UnknownIdError, match="has no row for item id"):
        model.item_vectors([123456])


def test_ids_only_model_gives_unknown_films_the_unknown_row():
    model = TwoTowerRetrieval(**QUICK).fit(contract_split())
    vectors = model.item_vectors([100, 424242, 434343])
    assert np.allclose(vectors[1], vectors[2]) and np.allclose(vectors[1], model.item_vectors_[0])


def test_the_index_answers_as_recommend_does():
    split = contract_split()
    model = TwoTowerRetrieval(**QUICK).fit(split)
    _, positions = model.index(k=5)(ops.convert_to_tensor(model.user_vectors(["u03"])))
    from_index = model.items_.decode(ops.convert_to_numpy(positions)[0])
    top = model.recommend("u03", n=5, exclude_seen=False)["item"].to_numpy()
    assert np.array_equal(from_index, top)


def test_id_dropout_outside_its_range_is_refused():
    with pytest.raises(ValueError, match="id_dropout"):
        TwoTowerRetrieval(id_dropout=1.0)


def test_training_is_seeded():
    split = contract_split()
    first = TwoTowerRetrieval(**QUICK).fit(split).item_vectors_
    again = TwoTowerRetrieval(**QUICK).fit(split).item_vectors_
    assert np.allclose(first, again)
    assert isinstance(TwoTowerRetrieval(**QUICK).fit(split).history_, pd.DataFrame)


def test_early_stopping_chooses_epochs_on_validation_then_refits():
    split = contract_split()
    model = TwoTowerRetrieval(**{**QUICK, "epochs": 6}, early_stopping=True, patience=1).fit(split)
    history = model.history_
    assert "val_hr@10" in history and 1 <= len(history) <= 6
    assert model.best_epoch_ == int(history["val_hr@10"].idxmax())
    assert model.epochs_trained_ >= model.best_epoch_  # the refit sees more pairs per epoch
    # the refit model is the one kept: its vectors are those of a fit on every pair
    assert model.item_vectors_.shape == (len(model.items_) + 1, QUICK["dim"] + 1)
    plain = TwoTowerRetrieval(**QUICK).fit(split)
    assert plain.best_epoch_ == plain.epochs_trained_ == QUICK["epochs"]
