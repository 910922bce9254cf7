"""The contract every coursekit model keeps, as checks that can be run on any model (in the
spirit of scikit-learn's ``check_estimator``).

    from coursekit.models.checks import check_model
    failures = check_model("matrix factorization")   # a registry name, or a factory
    assert not failures, failures

The checks train on a small table shaped like a student's own: string user ids, a 1-10 rating
scale, one user who rated every item. Each check is a function; :func:`check_model` runs them
all and returns ``{check name: what went wrong}`` for those that failed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import traceback
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from coursekit.data.movielens import MovieLens
from coursekit.data.splits import Split, random_split
from coursekit.errors import NotFittedError, RatingsNotPredictedError, UnknownIdError
from coursekit.models.base import Recommender
from coursekit.models.registry import get_entry

SCALE = (1.0, 10.0)
EVERYTHING_USER = "u00"  # rated every item


def contract_table(seed: int = 0, n_users: int = 40, n_items: int = 30) -> pd.DataFrame:
    """A small ratings table: string user ids, integer items, ratings 1-10, timestamps."""
    rng = np.random.default_rng(seed)
    taste = rng.normal(size=(n_users, 2)) @ rng.normal(size=(2, n_items))
    rows = [(0, i) for i in range(n_items)]
    for u in range(1, n_users):
        count = int(rng.integers(6, n_items // 2))
        rows += [(u, i) for i in rng.choice(n_items, count, replace=False)]
    users, items = np.array(rows).T
    ratings = np.clip(np.round(5.5 + 2 * taste[users, items] + rng.normal(size=users.size)),
                      *SCALE)
    return pd.DataFrame({"user": [f"u{u:02d}" for u in users], "item": items + 100,
                         "rating": ratings, "timestamp": rng.integers(0, 10**6, users.size)})


def contract_split(seed: int = 0) -> Split:
    """The table split 80/20 at random; the all-items user keeps everything in training."""
    table = contract_table(seed)
    everything = table["user"] == EVERYTHING_USER
    split = random_split(table[~everything], 0.2, seed)
    train = pd.concat([split.train, table[everything]], ignore_index=True)
    return Split(train, split.test, name="contract", rating_scale=SCALE,
                 dataset=contract_dataset(table, seed))


def contract_dataset(table: pd.DataFrame, seed: int = 0) -> MovieLens:
    """The table with users' and films' tables in MovieLens's schema, for models that read
    features; one user and one film have no row there, as in a student's partial table."""
    rng = np.random.default_rng(seed)
    users = np.sort(table["user"].unique())[:-1]
    items = np.sort(table["item"].unique())[:-1]
    genres = ["Comedy", "Drama", "Horror"]
    return MovieLens(
        name="contract", ratings=table, rating_scale=SCALE, source="contract",
        users=pd.DataFrame({"user": users, "age": rng.integers(15, 70, users.size),
                            "gender": rng.choice(["M", "F"], users.size),
                            "occupation": rng.choice(["artist", "writer"], users.size)}),
        items=pd.DataFrame({"item": items, "title": [f"Film {i}" for i in items],
                            "genres": [list(rng.choice(genres, 2, replace=False))
                                       for _ in items],
                            "year": rng.integers(1950, 1999, items.size)}))


def _quietly(call: Callable, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return call(*args, **kwargs)


# --- the checks: each takes (model, split) and raises AssertionError or returns ----------
def check_use_before_fit(model: Recommender, split: Split) -> None:
    calls = [lambda: model.predict(["u01"], [100]), lambda: model.recommend("u01"),
             lambda: model.recommend_all(), lambda: model.score(["u01"], [100]),
             lambda: model.save(Path(tempfile.gettempdir()) / "coursekit-unfitted")]
    if hasattr(model, "query_index"):  # retrieval models: their index, too
        calls += [lambda: model.query_index("u01"), lambda: model.similar_items(100),
                  lambda: model.evaluate_retrieval(split.test)]
    for call in calls:
        try:
            call()
        except NotFittedError as error:
            assert "fit" in str(error), f"the error does not say to call fit: {error}"
        else:
            raise AssertionError("a model used before fit did not raise NotFittedError")


def check_predictions_in_scale(model: Recommender, split: Split) -> None:
    known = split.train.sample(20, random_state=0)
    if not model.predicts_ratings:
        try:
            model.predict(known["user"], known["item"])
        except RatingsNotPredictedError as error:
            assert "score" in str(error)
            return
        raise AssertionError("a model that cannot predict ratings returned predictions")
    predicted = model.predict(known["user"], known["item"])
    assert predicted.shape == (20,) and np.isfinite(predicted).all(), predicted
    assert (predicted >= SCALE[0]).all() and (predicted <= SCALE[1]).all(), predicted
    assert predicted.std() > 0, "every prediction is the same number"


def check_recommend_excludes_rated(model: Recommender, split: Split) -> None:
    n_items = split.train["item"].nunique()
    for user in ("u01", "u07"):
        rated = set(split.train.loc[split.train["user"] == user, "item"])
        for n in (5, n_items + 10):
            top = model.recommend(user, n=n)
            assert not set(top["item"]) & rated, f"n={n}: rated items in the list"
            assert len(top) == min(n, n_items - len(rated)), (n, len(top))
            assert top["item"].is_unique and np.isfinite(top["score"]).all()
    assert len(model.recommend(EVERYTHING_USER, n=5)) == 0, "a user who rated all got a list"
    try:
        model.recommend("u01", n=0)
    except ValueError:
        pass
    else:
        raise AssertionError("n=0 was accepted")


def check_recommend_all_excludes_rated(model: Recommender, split: Split) -> None:
    n_items = split.train["item"].nunique()
    for n in (3, n_items + 10):
        lists = model.recommend_all(n=n)
        rated = split.train.merge(lists, on=["user", "item"])
        assert rated.empty, f"n={n}: {len(rated)} rated item(s) recommended"
        assert EVERYTHING_USER not in set(lists["user"])
        sizes = lists.groupby("user").size()
        unrated = n_items - split.train.groupby("user").size()
        expected = np.minimum(n, unrated.drop(EVERYTHING_USER))
        assert sizes.reindex(expected.index).fillna(0).eq(expected).all(), f"n={n}: sizes"
        ranks = lists.groupby("user")["rank"].apply(lambda r: list(r) == list(range(1, len(r) + 1)))
        assert ranks.all(), "ranks are not 1..k within each list"
        assert np.isfinite(lists["score"]).all()


def check_unknown_user_gets_popularity(model: Recommender, split: Split) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        top = model.recommend("a stranger", n=5)
    assert any("not in the training data" in str(w.message) for w in caught), "no warning"
    assert top.attrs["source"] == "popularity" and len(top) == 5, top
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        lists = model.recommend_all(n=5, users=["a stranger", "u01"])
    assert caught and set(lists["user"]) == {"a stranger", "u01"}


def check_unknown_item_is_refused(model: Recommender, split: Split) -> None:
    if not model.predicts_ratings:
        return
    try:
        model.predict(["u01"], [99_999])
    except UnknownIdError as error:
        assert "99999" in str(error) and "fallback" in str(error), str(error)
    else:
        raise AssertionError("an unknown item was predicted without an error")
    predicted = _quietly(model.predict, ["u01"], [99_999], unknown="fallback")
    assert SCALE[0] <= predicted[0] <= SCALE[1]


def check_index_queries(model: Recommender, split: Split) -> None:
    """Retrieval models' own index answers: any k, rated films left out."""
    if not hasattr(model, "query_index"):
        return
    n_items = split.train["item"].nunique()
    rated = set(split.train.loc[split.train["user"] == "u01", "item"])
    top = model.query_index("u01", k=n_items + 10)
    assert len(top) == n_items - len(rated) and not set(top["item"]) & rated, len(top)
    assert len(model.query_index(EVERYTHING_USER, k=5)) == 0
    similar = model.similar_items(100, k=n_items + 10)
    assert len(similar) == n_items - 1 and 100 not in set(similar["item"])


def _answers(model: Recommender, split: Split) -> dict:
    pairs = split.test.head(10)
    out = {"recommend": model.recommend("u03", n=5)["item"].tolist(),
           "all": model.recommend_all(n=3)["item"].tolist()}
    if model.predicts_ratings:
        out["predict"] = np.round(model.predict(pairs["user"], pairs["item"], "fallback"),
                                  5).tolist()
        # at each rating's time, for a model that reads it
        out["predict_frame"] = np.round(model.predict_frame(pairs), 5).tolist()
    return out


LOAD_AND_ANSWER = """
import json, sys, warnings
warnings.simplefilter("ignore")
folders = json.loads(sys.argv[1])
if sys.argv[2] == "tfrs":
    import coursekit.models.retrieval.tfrs  # noqa: F401
from coursekit.models import Recommender
from coursekit.models.checks import _answers, contract_split
split = contract_split()
answers = {}
for name, folder in folders.items():
    try:
        answers[name] = _answers(Recommender.load(folder), split)
    except Exception as error:  # noqa: BLE001
        answers[name] = f"{type(error).__name__}: {error}"
print(json.dumps(answers))
"""


def answers_in_a_fresh_process(folders: dict[str, Path], backend: str = "numpy") -> dict:
    """Each saved model of ``folders`` (name -> folder) loaded in one new Python process, and
    its answers (or the error it raised): one process for many models, since each new process
    spends seconds importing TensorFlow."""
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run(
        [sys.executable, "-c", LOAD_AND_ANSWER,
         json.dumps({name: str(folder) for name, folder in folders.items()}), backend],
        capture_output=True, text=True, timeout=600, env=environment)
    if result.returncode != 0:
        raise AssertionError(f"the fresh process failed: {result.stderr[-1500:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


# The checks of a fitted model (check_use_before_fit takes an unfitted one); saving and
# loading in a fresh process is checked by check_models, for many models at once.
FITTED_CHECKS = {
    "predictions in scale": check_predictions_in_scale,
    "recommend excludes rated": check_recommend_excludes_rated,
    "recommend_all excludes rated": check_recommend_all_excludes_rated,
    "unknown user": check_unknown_user_gets_popularity,
    "unknown item": check_unknown_item_is_refused,
    "index queries": check_index_queries,
}


def _check_fitted(name: str, settings: dict,
                  split: Split) -> tuple[dict[str, str], Recommender | None]:
    entry = get_entry(name)
    if entry.backend == "tfrs" and "coursekit.models.retrieval.tfrs" not in sys.modules:
        import coursekit.models.retrieval.tfrs  # noqa: F401  (Keras 2 for TFRS, before TensorFlow loads)
    failures: dict[str, str] = {}
    try:
        check_use_before_fit(entry.make(**{**entry.quick, **settings}), split)
    except Exception:  # noqa: BLE001  (every failure is reported, none stops the others)
        failures["use before fit"] = traceback.format_exc(limit=3)
    try:
        model = entry.make(**{**entry.quick, **settings}).fit(split)
    except Exception:  # noqa: BLE001
        failures["fit"] = traceback.format_exc(limit=3)
        return failures, None
    for check_name, check in FITTED_CHECKS.items():
        try:
            check(model, split)
        except Exception:  # noqa: BLE001
            failures[check_name] = traceback.format_exc(limit=3)
    return failures, model


def check_models(names: list[str], **settings) -> dict[str, dict[str, str]]:
    """Every check on each registered model of ``names`` (its quick settings, ``settings``
    replacing some): ``{name: {check: what went wrong}}``, an empty dict for a model that
    keeps the contract. The models are saved (twice: saving again replaces the folder whole)
    and loaded back in one fresh process, which must give the same answers. Models of one
    backend only: TFRS models need Keras 2 in their process, the others Keras 3."""
    backends = {get_entry(name).backend == "tfrs" for name in names}
    if len(backends) > 1:
        raise ValueError("check TFRS models and the others in separate processes")
    split = contract_split()
    failures, fitted = {}, {}
    for name in names:
        failures[name], model = _check_fitted(name, settings, split)
        if model is not None:
            fitted[name] = model
    with tempfile.TemporaryDirectory() as base:
        folders = {}
        for index, (name, model) in enumerate(fitted.items()):
            try:
                folders[name] = Path(base) / f"model-{index}"
                model.save(folders[name])
                model.save(folders[name])
            except Exception:  # noqa: BLE001
                failures[name]["save"] = traceback.format_exc(limit=3)
                folders.pop(name)
        backend = "tfrs" if backends == {True} else "numpy"
        reloaded = answers_in_a_fresh_process(folders, backend) if folders else {}
    for name in folders:
        here = _quietly(_answers, fitted[name], split)
        if reloaded.get(name) != here:
            failures[name]["save and load"] = (
                f"the reloaded model answers differently: {reloaded.get(name)} vs {here}")
    return failures


def check_model(name: str, **settings) -> dict[str, str]:
    """Run every check on the registered model ``name`` (its quick settings, ``settings``
    replacing some); returns the failures, ``{}`` when the model keeps the contract."""
    return check_models([name], **settings)[name]


if __name__ == "__main__":  # python -m coursekit.models.checks NAME...: JSON of the failures
    print(json.dumps(check_models(sys.argv[1:])))
