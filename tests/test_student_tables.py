"""A student's own table, validated once at the boundary (the split functions and fit), and
the bugs the model contract found, each with a test."""

from __future__ import annotations

import pickle
import threading
import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import csv_layout_archive, serve_dataset

from coursekit.data import download, random_split, validate_ratings
from coursekit.data.splits import Split, leave_last_out_split
from coursekit.errors import InvalidRatingsError, ModelVersionError
from coursekit.io import atomic_folder, atomic_write_text
from coursekit.models import BiasBaseline, Recommender
from coursekit.models.checks import contract_table


def ten_point_table() -> pd.DataFrame:
    return contract_table(seed=3)  # string user ids, ratings 1-10


def test_a_one_to_ten_table_works_end_to_end_with_matrix_factorization():
    from coursekit.models import MatrixFactorization

    split = random_split(ten_point_table(), 0.2, seed=0)
    assert split.rating_scale == (1.0, 10.0)
    model = MatrixFactorization(epochs=5, n_factors=4).fit(split)
    assert np.isfinite(model.network_.offset.numpy())
    predicted = model.predict(split.test["user"], split.test["item"], unknown="fallback")
    assert np.isfinite(predicted).all() and predicted.max() > 5.0, predicted.max()
    assert predicted.min() >= 1.0 and predicted.max() <= 10.0


def test_a_table_fits_directly_with_its_scale_inferred():
    table = ten_point_table()
    model = BiasBaseline().fit(table)
    assert model.rating_scale == (1.0, 10.0)
    assert model.predict(table["user"][:50], table["item"][:50]).max() > 5.0


def test_a_given_scale_is_checked_against_the_ratings():
    with pytest.raises(InvalidRatingsError, match=r"outside the scale \[0.5, 5.0\].*\(1, 10\)"):
        random_split(ten_point_table(), rating_scale=(0.5, 5.0))
    with pytest.raises(InvalidRatingsError, match="outside the scale"):
        BiasBaseline().fit(ten_point_table(), rating_scale=(1, 5))


def test_other_column_names_get_the_rename_to_make():
    table = ten_point_table().rename(columns={"user": "userId", "item": "movieId",
                                               "rating": "stars"})
    for call in (lambda: random_split(table), lambda: BiasBaseline().fit(table)):
        with pytest.raises(InvalidRatingsError) as info:
            call()
        assert "{'userId': 'user', 'movieId': 'item', 'stars': 'rating'}" in str(info.value)


def test_nan_ratings_are_refused_at_split_and_fit():
    table = ten_point_table()
    table.loc[3, "rating"] = np.nan
    for call in (lambda: random_split(table), lambda: BiasBaseline().fit(table),
                 lambda: Split(table, table)):
        with pytest.raises(InvalidRatingsError, match=r"1 rating row\(s\) contain NaN"):
            call()


def test_duplicate_pairs_are_an_error_unless_the_latest_is_asked_for():
    table = ten_point_table()
    again = table.iloc[[0]].assign(rating=2.0, timestamp=table["timestamp"].iloc[0] + 1)
    doubled = pd.concat([table, again], ignore_index=True)
    with pytest.raises(InvalidRatingsError, match="on_duplicates='latest'"):
        random_split(doubled)
    with pytest.raises(InvalidRatingsError, match="more than once"):
        BiasBaseline().fit(doubled)
    with pytest.warns(UserWarning, match="kept one rating per pair"):
        split = random_split(doubled, on_duplicates="latest")
    pair = table.iloc[0]
    everything = pd.concat([split.train, split.test])
    kept = everything[(everything["user"] == pair["user"]) & (everything["item"] == pair["item"])]
    assert kept["rating"].tolist() == [2.0]


def test_autorec_does_not_add_up_a_re_rated_pair():
    from coursekit.models import AutoRec

    table = ten_point_table()
    pair = table.iloc[0]
    again = pair.to_frame().T.assign(rating=3.0, timestamp=pair["timestamp"] + 5)
    doubled = pd.concat([table, again], ignore_index=True).astype(table.dtypes.to_dict())
    with pytest.warns(UserWarning):
        model = AutoRec(epochs=1, hidden_units=(4,), refit=False, validation_fraction=0.1)
        model.fit(doubled, on_duplicates="latest")
    assert model.matrix_.max() <= 10.0
    matrix = model.matrix_.toarray()
    u, i = model.users_.encode([pair["user"]])[0], model.items_.encode([pair["item"]])[0]
    assert matrix[i, u] in (0.0, 3.0)  # the latest rating, or held out for validation


def test_string_ids_work_and_fractional_float_ids_are_refused():
    table = ten_point_table()
    model = BiasBaseline().fit(table)
    assert model.recommend("u05", n=3)["item"].dtype.kind == "i"
    as_float = table.assign(item=table["item"].astype(float))
    assert validate_ratings(as_float)["item"].dtype == np.int64
    with pytest.raises(InvalidRatingsError, match="not whole numbers"):
        validate_ratings(table.assign(item=table["item"] + 0.5))


def test_a_table_without_time_cannot_be_split_by_time():
    table = ten_point_table().drop(columns="timestamp")
    assert len(random_split(table).train) > 0
    with pytest.raises(InvalidRatingsError, match="same timestamp"):
        leave_last_out_split(table)


def test_a_model_saved_by_another_coursekit_version_is_refused(tmp_path):
    folder = BiasBaseline().fit(ten_point_table()).save(tmp_path / "model")
    with open(folder / "state.pkl", "rb") as handle:
        saved = pickle.load(handle)
    saved["coursekit_version"] = "0.0.1"
    with open(folder / "state.pkl", "wb") as handle:
        pickle.dump(saved, handle)
    with pytest.raises(ModelVersionError, match=r"coursekit 0\.0\.1.*Train and save"):
        Recommender.load(folder)


def test_a_model_saved_before_the_models_moved_is_refused_with_what_to_do(tmp_path, monkeypatch):
    """coursekit 0.2 kept BiasBaseline in coursekit.models.baselines: its saves name a module
    that no longer exists."""
    import sys
    import types

    old_home = types.ModuleType("coursekit.models.baselines")
    old_class = type("BiasBaseline", (BiasBaseline,), {"__module__": old_home.__name__})
    old_home.BiasBaseline = old_class
    monkeypatch.setitem(sys.modules, old_home.__name__, old_home)
    model = old_class()
    model.__dict__.update(BiasBaseline().fit(ten_point_table()).__dict__)
    folder = model.save(tmp_path / "model")
    monkeypatch.delitem(sys.modules, old_home.__name__)
    with pytest.raises(ModelVersionError, match=r"coursekit\.models\.baselines.*Train and save"):
        Recommender.load(folder)


def test_atomic_writes_keep_the_old_version_when_writing_fails(tmp_path):
    target = atomic_write_text(tmp_path / "results.json", "old")
    with pytest.raises(RuntimeError), atomic_folder(tmp_path / "model") as staging:
        (staging / "half.bin").write_text("x")
        raise RuntimeError("crash while saving")
    assert not (tmp_path / "model").exists()
    with atomic_folder(tmp_path / "model") as staging:
        (staging / "a").write_text("1")
    with atomic_folder(tmp_path / "model") as staging:
        (staging / "b").write_text("2")
    assert sorted(p.name for p in (tmp_path / "model").iterdir()) == ["b"]
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model", "results.json"]


def test_two_downloads_into_one_cache_at_once_both_succeed(cache, server, monkeypatch):
    spec = serve_dataset(monkeypatch, server, "ml-latest-small", csv_layout_archive())
    slow_hash = download.sha256_of

    def sha256_slowly(path):  # keep both downloads in flight together
        barrier.wait(timeout=30)
        return slow_hash(path)

    barrier = threading.Barrier(2)
    monkeypatch.setattr(download, "sha256_of", sha256_slowly)
    results, errors = [], []

    def fetch():
        try:
            results.append(download.fetch_archive(spec, progressbar=False))
        except Exception as error:  # noqa: BLE001
            errors.append(error)

    threads = [threading.Thread(target=fetch) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    assert len(results) == 2 and sorted(p.name for p in cache.iterdir()) == [spec.filename]


def test_fit_refuses_what_is_not_a_table():
    with pytest.raises(TypeError, match="random_split"):
        BiasBaseline().fit([(1, 2, 3.0)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        BiasBaseline().fit(ten_point_table())  # a clean table fits without a warning
