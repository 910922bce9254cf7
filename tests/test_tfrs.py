"""The TFRS module: Keras versions in both import orders, and the chapter's quality figures.

Each runs in a fresh Python process, because which Keras backs tf.keras is decided once per
process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
ENV.pop("TF_USE_LEGACY_KERAS", None)


def run(code: str, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=ENV, timeout=timeout)


def test_importing_coursekit_tfrs_first_gives_tfrs_keras_2():
    result = run("import coursekit.tfrs\nimport tensorflow as tf\n"
                 "import tensorflow_recommenders\nprint(tf.keras.__name__)")
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().startswith("tf_keras")


def test_keras_3_already_bound_gives_a_clear_error():
    result = run("import tensorflow as tf\n_ = tf.keras.layers.Dense\nimport coursekit.tfrs")
    assert result.returncode != 0
    assert "KerasVersionError" in result.stderr
    assert "Restart the runtime" in result.stderr
    assert "import coursekit.tfrs" in result.stderr


def test_standalone_keras_3_before_is_fine():
    result = run("import keras\nimport coursekit.tfrs\nimport tensorflow as tf\n"
                 "print(keras.__version__.split('.')[0], tf.keras.__name__)")
    assert result.returncode == 0, result.stderr[-2000:]
    major, name = result.stdout.split()
    assert major == "3" and name.startswith("tf_keras")


QUALITY = """
import json, tempfile, warnings
import coursekit.tfrs as ct
from coursekit import data as ckd, metrics
from coursekit.models import MostPopular, Recommender
ml = ckd.load_movielens("ml-100k")
out = {}
split = ckd.retrieval_protocol(ml)
model = ct.RetrievalRecommender(seed=0).fit(split)
out["top100"] = model.evaluate_retrieval(split.test)["top-100"]
folder = tempfile.mkdtemp()
model.save(folder)
out["reloaded_same"] = (Recommender.load(folder).query_index(42, 10)["item"].tolist()
                        == model.query_index(42, 10)["item"].tolist())
seen = set(split.train.loc[split.train["user"] == 42, "item"])
out["excludes_seen"] = not (set(model.query_index(42, 50)["item"]) & seen)
similar = model.similar_items(50, 10)
out["similar_ok"] = (50 not in similar["item"].tolist() and len(similar) == 10
                     and similar["score"].is_monotonic_decreasing)
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    cold = model.recommend(99_999, n=5)
out["cold_start_popularity"] = cold.attrs["source"] == "popularity" and len(caught) == 1
topn = ckd.topn_protocol(ml)
out["hr_tower"] = metrics.hit_rate(ct.RetrievalRecommender(seed=0).fit(topn).recommend_all(10),
                                   topn.test)
out["hr_popular"] = metrics.hit_rate(MostPopular().fit(topn).recommend_all(10), topn.test)
rating = ckd.rating_protocol(ml)
out["ranking_rmse"] = metrics.evaluate_ratings(ct.RankingRecommender(seed=0).fit(rating),
                                               rating.test)["RMSE"]
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def quality():
    result = run(QUALITY, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_retrieval_top100_accuracy_reaches_0_27(quality):
    print(quality)
    assert quality["top100"] >= 0.27


@pytest.mark.slow
def test_topn_hit_rate_is_at_least_1_5_times_popularity(quality):
    assert quality["hr_popular"] == pytest.approx(0.050, abs=0.002)
    assert quality["hr_tower"] >= 1.5 * quality["hr_popular"] - 0.002


@pytest.mark.slow
def test_ranking_model_rmse_reaches_0_94(quality):
    assert quality["ranking_rmse"] <= 0.94


@pytest.mark.slow
def test_index_reloads_excludes_seen_and_cold_start_falls_back(quality):
    assert quality["reloaded_same"] and quality["excludes_seen"] and quality["similar_ok"]
    assert quality["cold_start_popularity"]
