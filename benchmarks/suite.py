"""The course's benchmark suite: every model's quality on its protocols, and its cost at scale.

    python -m benchmarks.suite                       # everything (hours on 2 cores)
    python -m benchmarks.suite --part quality        # ml-100k protocols only (~15 minutes)
    python -m benchmarks.suite --part seeds          # 5 training seeds; RATING on 3 splits (~80)
    python -m benchmarks.suite --part scale --scales 0.05 0.25

Quality: each model is trained on ml-100k under each protocol it serves (RATING: RMSE, MAE;
TOPN: HR@10, NDCG@10, catalogue coverage, novelty; RETRIEVAL: top-K accuracy), with the
settings its chapter uses. Scale: on MovieLens-20M-shaped synthetic ratings at 1M, 5M and 20M
(``synthetic_movielens(scale)``, 98% train, 1% validation, 1% test), the time of one epoch
(or of the whole fit for models without epochs), ratings per second, and peak resident memory.
Seeds: every model that draws random numbers in training, trained with five seeds on its first
protocol's split, and every RATING model on three random splits, for the mean and standard
deviation of its headline figure over each.

Beside each quality row, what each test unit got (a rating's prediction, a user's list, a
test pair's rank) is kept in ``coursekit/benchmark_units.npz``, so that chapters give the
suite's figures confidence intervals and compare their own models with them, unit by unit.

Every measurement runs in a fresh child process, so that its peak resident set size
(``ru_maxrss``, TensorFlow included) is its own and no model inherits another's state; runs
one after the other, never side by side, so timings do not disturb each other. Results are
written to ``coursekit/benchmark_results.json`` (read by chapter 15) and printed as tables.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import queue as queue_module
import resource
import tempfile
import time
import traceback
from datetime import date
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

RESULTS = Path(__file__).resolve().parents[1] / "coursekit" / "benchmark_results.json"
UNITS = RESULTS.with_name("benchmark_units.npz")
SCALES = (0.05, 0.25, 1.0)
CHILD_LIMIT_S = 1500

# Every model, its chapter and its protocols come from coursekit's model registry.
# model name -> what one timed run at scale is
SCALE = {
    "user + item biases": "whole fit",
    "Surprise SVD": "1 epoch",
    "matrix factorization": "1 epoch",
    "matrix factorization (fast)": "1 epoch (median of 3)",
    "neural CF": "1 epoch",
    "I-AutoRec": "1 epoch (sparse rows, row-wise Adagrad)",
    "deep autoencoder": "whole fit (1 epoch)",
    "TFRS two-tower retrieval": "whole fit (1 epoch)",
    "TFRS ranking": "whole fit (1 epoch + 1 refit epoch)",
}
# settings at scale that differ from the chapters' (the synthetic ratings have 16 factors)
SCALE_SETTINGS = {
    "matrix factorization": {"n_factors": 32},
    "matrix factorization (fast)": {"n_factors": 32, "batch_size": 262_144, "learning_rate": 0.1},
}
NOT_AT_SCALE = {
    ("TFRS ranking", 1.0): "its whole fit (an epoch, then the refit's epoch, in batches of 256 "
                           "through string lookups) took about 9 minutes at 5M, so over half an "
                           "hour at 20M, past the suite's limit of 25 minutes a run; the "
                           "plain-fit cost is measured by matrix factorization and neural CF",
}


def quality_models() -> dict[str, tuple[str, ...]]:
    """Model name -> the protocols it is measured on, from the registry."""
    from coursekit.models.registry import MODELS

    return {name: entry.protocols for name, entry in MODELS.items()}


def make_model(name: str, **overrides):
    """The model ``name`` with its chapter's settings (``overrides`` replace some)."""
    from coursekit.models.registry import make_model as make

    return make(name, **overrides)


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9  # KiB on Linux


def _prepare_child(name: str) -> None:
    from coursekit.models.registry import get_entry

    if get_entry(name).backend == "tfrs":
        import coursekit.models.retrieval.tfrs  # noqa: F401  (selects Keras 2 before TensorFlow loads)


# --- quality on the three protocols --------------------------------------------------------
def _protocol_split(protocol: str, dataset):
    """The course's split of ``dataset`` for ``protocol``."""
    from coursekit import data as ckd

    return {"RATING": ckd.rating_protocol, "TOPN": ckd.topn_protocol,
            "RETRIEVAL": ckd.retrieval_protocol}[protocol](dataset)


def _quality(name: str) -> dict:
    from coursekit import data as ckd
    from coursekit import leaderboard
    from coursekit.evaluation.protocols import evaluate

    _prepare_child(name)
    dataset = ckd.load_movielens("ml-100k", progressbar=False)
    rows, units = [], {}
    for protocol in quality_models()[name]:
        split = _protocol_split(protocol, dataset)
        model = make_model(name)
        started = time.perf_counter()
        model.fit(split)
        row = {"model": name, "protocol": protocol,
               "train_seconds": round(time.perf_counter() - started, 1)}
        row.update(evaluate(model, split, protocol))
        rows.append(row)
        # what each test unit got, for intervals and paired comparisons with the suite's rows
        units.update(leaderboard.unit_answers(name, model, split, protocol))
    for row in rows:
        row["peak_rss_gb"] = round(peak_rss_gb(), 2)
    return {"rows": rows, "units": units}


# --- seeds: how far one run sits from another --------------------------------------------
TRAINING_SEEDS = (0, 1, 2, 3, 4)
SPLIT_SEEDS = (42, 7, 11)  # 42 is the RATING protocol's own split
METRIC = {"RATING": "RMSE", "TOPN": "HR@10", "RETRIEVAL": "top-100"}
# models that draw no random numbers in training: no training seeds (the RATING ones still
# get split seeds)
DETERMINISTIC = ("global mean", "most popular", "user + item biases", "Surprise KNNBaseline",
                 "time-aware biases", "EASE", "recent-item kNN")
SEED_SETTING = {"Surprise SVD": "random_state",  # the others take ``seed``
                "Surprise SVD (tuned)": "random_state"}


def seed_models() -> list[str]:
    """Every model with training seeds to measure, or a RATING split to measure again."""
    return [name for name, protocols in quality_models().items()
            if name not in DETERMINISTIC or "RATING" in protocols and name != "global mean"]


def _seeds(name: str) -> dict:
    """``name``'s figure on its first protocol with each training seed, and on RATING with each
    split seed (the chapter's own training seed): mean and standard deviation of each."""
    import numpy as np

    from coursekit import data as ckd
    from coursekit.evaluation.protocols import evaluate

    _prepare_child(name)
    dataset = ckd.load_movielens("ml-100k", progressbar=False)
    protocol = quality_models()[name][0]
    metric = METRIC[protocol]
    row = {"model": name, "protocol": protocol, "metric": metric}

    def spread(figures: dict) -> dict:
        values = np.array(list(figures.values()))
        return {"mean": float(values.mean()), "sd": float(values.std(ddof=1)),
                "by_seed": figures}

    if name not in DETERMINISTIC:
        split = _protocol_split(protocol, dataset)
        setting = SEED_SETTING.get(name, "seed")
        row["training_seeds"] = spread({
            str(seed): evaluate(make_model(name, **{setting: seed}).fit(split), split,
                                protocol)[metric] for seed in TRAINING_SEEDS})
    if protocol == "RATING":
        splits = {seed: ckd.random_split(dataset.ratings, 0.2, seed, dataset=dataset)
                  for seed in SPLIT_SEEDS}
        row["split_seeds"] = spread({
            str(seed): evaluate(make_model(name).fit(split), split, "RATING")["RMSE"]
            for seed, split in splits.items()})
    return row


def run_seeds(names: list[str], results: dict, save) -> None:
    """Measure each model's seeds into ``results["seeds"]``, calling ``save()`` after each
    model (a long run keeps what it measured if it is stopped)."""
    from tqdm.auto import tqdm

    for name in tqdm(names, desc=f"seeds ({len(TRAINING_SEEDS)} training, "
                                 f"{len(SPLIT_SEEDS)} split)"):
        row = stamped({"model": name, **run_child("_seeds", name, limit_s=3 * CHILD_LIMIT_S)})
        results["seeds"] = [r for r in results.get("seeds", []) if r["model"] != name] + [row]
        save()


# --- cost at scale ------------------------------------------------------------------------
def _write_synthetic(scale: float, folder: Path) -> dict:
    import numpy as np

    from coursekit import data as ckd

    started = time.perf_counter()
    ratings = ckd.synthetic_movielens(scale=scale, seed=0).ratings[["user", "item", "rating"]]
    split = ckd.random_split(ratings, 0.01, seed=42, validation_size=0.01 / 0.99,
                             rating_scale=(0.5, 5.0), name="synthetic")
    for part, frame in split.parts().items():
        np.savez(folder / f"{part}.npz", user=frame["user"].to_numpy(np.int32),
                 item=frame["item"].to_numpy(np.int32),
                 rating=frame["rating"].to_numpy(np.float32))
    return {"ratings": len(ratings), "train": len(split.train),
            "users": int(ratings["user"].nunique()), "items": int(ratings["item"].nunique()),
            "seconds_generating": round(time.perf_counter() - started, 1)}


def _load_split(folder: Path):
    import numpy as np
    import pandas as pd

    from coursekit import data as ckd

    parts = {}
    for part in ("train", "validation", "test"):
        with np.load(folder / f"{part}.npz") as arrays:
            parts[part] = pd.DataFrame({k: arrays[k] for k in ("user", "item", "rating")})
    return ckd.Split(parts["train"], parts["test"], parts["validation"], name="synthetic",
                     rating_scale=(0.5, 5.0))


def _scale_autorec(folder: Path) -> dict:
    """One epoch of chapter 5's large-row I-AutoRec trainer: the child loads the film x user
    matrix alone, so its peak memory is the trainer's (and TensorFlow's)."""
    import numpy as np
    import scipy.sparse as sp
    import tensorflow as tf

    from coursekit.models.rating.autoencoders import AutoRec

    tf.config.threading.set_inter_op_parallelism_threads(1)  # one large temporary at a time
    with np.load(folder / "train.npz") as arrays:
        users, user_index = np.unique(arrays["user"], return_inverse=True)
        items, item_index = np.unique(arrays["item"], return_inverse=True)
        matrix = sp.csr_matrix((arrays["rating"], (item_index, user_index)),
                               shape=(items.size, users.size))
    del user_index, item_index
    before = peak_rss_gb()
    trainer = AutoRec(orientation="item", hidden_units=(500,), seed=0).sparse_trainer(
        matrix, max_ratings=16_384)
    n_train = matrix.nnz
    del matrix
    started = time.perf_counter()
    log = trainer.train_epoch()
    seconds = time.perf_counter() - started
    return {"seconds": round(seconds, 1), "ratings_per_second": round(n_train / seconds),
            "training_rmse": round(log["rmse"], 4),
            "peak_rss_gb_before_training": round(before, 2),
            "peak_rss_gb": round(peak_rss_gb(), 2)}


def _scale(name: str, folder: str) -> dict:
    import statistics

    import numpy as np

    from coursekit.evaluation import metrics
    from coursekit.scaling import EpochTimer

    _prepare_child(name)
    folder = Path(folder)
    if name == "I-AutoRec":
        return _scale_autorec(folder)
    split = _load_split(folder)
    n_train = len(split.train)
    before = peak_rss_gb()
    if name in ("matrix factorization", "matrix factorization (fast)", "neural CF"):
        fast = name == "matrix factorization (fast)"
        timer = EpochTimer(max_batches=None if fast else 1000)
        model = make_model(name, epochs=3 if fast else 1, refit=False, callbacks=[timer],
                           **SCALE_SETTINGS.get(name, {}))
        model.fit(split)
        seconds = statistics.median(timer.seconds)
        extrapolated = timer.extrapolated
    elif name == "Surprise SVD":
        import surprise
        from surprise import Dataset, Reader

        started = time.perf_counter()
        trainset = Dataset.load_from_df(split.train[["user", "item", "rating"]],
                                        Reader(rating_scale=(0.5, 5.0))).build_full_trainset()
        building = time.perf_counter() - started
        algorithm = surprise.SVD(random_state=0, n_epochs=1)
        started = time.perf_counter()
        algorithm.fit(trainset)
        seconds = time.perf_counter() - started
        sample = split.test.head(20_000)
        predicted = [algorithm.predict(u, i).est for u, i in
                     zip(sample["user"], sample["item"], strict=True)]
        return {"seconds": round(seconds, 2), "ratings_per_second": round(n_train / seconds),
                "seconds_building_trainset": round(building, 1),
                "test_rmse": round(metrics.rmse(sample["rating"].to_numpy(),
                                                np.asarray(predicted)), 4),
                "peak_rss_gb_before_training": round(before, 2),
                "peak_rss_gb": round(peak_rss_gb(), 2)}
    else:
        overrides = {"TFRS two-tower retrieval": {"epochs": 1},
                     "TFRS ranking": {"epochs": 1},
                     "deep autoencoder": {"epochs": 1, "refit": False}}.get(name, {})
        model = make_model(name, **overrides)
        started = time.perf_counter()
        model.fit(split)
        seconds = time.perf_counter() - started
        extrapolated = False
    result = {"seconds": round(seconds, 2), "ratings_per_second": round(n_train / seconds)}
    if extrapolated:
        result["timed"] = "1 epoch, from 1,000 batches after 20 warm-up batches"
    if getattr(model, "scores_are_ratings", True) and not extrapolated:
        sample = split.test.head(100_000)
        result["test_rmse"] = round(metrics.evaluate_ratings(model, sample)["RMSE"], 4)
    result["peak_rss_gb_before_training"] = round(before, 2)
    result["peak_rss_gb"] = round(peak_rss_gb(), 2)
    return result


# --- running children ---------------------------------------------------------------------
def _child(target: str, args: tuple, queue) -> None:
    try:
        queue.put(("ok", globals()[target](*args)))
    except BaseException as error:  # noqa: BLE001 (reported to the parent, not swallowed)
        queue.put(("error", f"{type(error).__name__}: {error}\n{traceback.format_exc()}"))


def run_child(target: str, *args, limit_s: int = CHILD_LIMIT_S) -> dict:
    """Run ``target(*args)`` in a fresh process; its result, or ``{"error": ...}``."""
    context = mp.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_child, args=(target, args, queue))
    process.start()
    deadline = time.monotonic() + limit_s
    status, value = "error", f"did not finish within {limit_s} s"
    while time.monotonic() < deadline:
        try:
            status, value = queue.get(timeout=5)
            break
        except queue_module.Empty:
            if not process.is_alive():  # killed (out of memory, say) before it could report
                status, value = "error", f"the process died (exit code {process.exitcode})"
                break
    if process.is_alive():
        process.kill()
    process.join()
    if status == "error":
        print(value)
        return {"error": value.splitlines()[0]}
    return value


def stamped(row: dict) -> dict:
    """A result row with the day it was measured and the coursekit version that measured it,
    so that a partial re-run restamps only the rows it measured again."""
    import coursekit

    return {**row, "measured_on": date.today().isoformat(),
            "coursekit_version": coursekit.__version__}


def run_quality(names: list[str], units_path: Path = UNITS) -> list[dict]:
    """Each model's rows, and what each of its test units got, kept in ``units_path`` (saved
    after every model, so that a stopped run keeps what it measured)."""
    from tqdm.auto import tqdm

    from coursekit import leaderboard

    rows = []
    for name in tqdm(names, desc="quality (ml-100k)"):
        result = run_child("_quality", name)
        if "error" in result:
            rows.extend({"model": name, "protocol": p, "error": result["error"]}
                        for p in quality_models()[name])
        else:
            rows.extend(stamped(row) for row in result["rows"])
            leaderboard.save_unit_answers(result["units"], units_path)
    return rows


def run_scale(names: list[str], scales: list[float], results: dict, save) -> None:
    """Measure ``names`` at each scale into ``results``, calling ``save()`` after every run
    (a long suite keeps what it measured if it is stopped)."""
    from tqdm.auto import tqdm

    for scale in scales:
        with tempfile.TemporaryDirectory() as folder:
            shape = run_child("_write_synthetic", scale, Path(folder))
            results["synthetic_data"] = [d for d in results.get("synthetic_data", [])
                                         if d["scale"] != scale] + [{"scale": scale, **shape}]
            for name in tqdm(names, desc=f"scale {scale:g} ({shape.get('ratings', 0):,})"):
                row = {"model": name, "scale": scale, "ratings": shape.get("train"),
                       "timed": SCALE[name], "settings": SCALE_SETTINGS.get(name, {})}
                if (name, scale) in NOT_AT_SCALE:
                    row["skipped"] = NOT_AT_SCALE[(name, scale)]
                else:
                    row.update(run_child("_scale", name, folder))
                row = stamped(row)
                results["scale"] = [r for r in results.get("scale", [])
                                    if (r["model"], r["scale"]) != (name, scale)] + [row]
                save()


def machine() -> dict:
    import tensorflow as tf

    return {"date": date.today().isoformat(), "cpus": os.cpu_count(),
            "platform": platform.platform(), "python": platform.python_version(),
            "tensorflow": tf.__version__,
            "gpus": [d.name for d in tf.config.list_physical_devices("GPU")]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("all", "quality", "seeds", "scale"),
                        default="all")
    parser.add_argument("--models", nargs="*", help="only these models (default: all)")
    parser.add_argument("--scales", nargs="*", type=float, default=list(SCALES))
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()

    import pandas as pd

    from coursekit import leaderboard
    from coursekit.io import atomic_write_text
    from coursekit.models.registry import MODELS

    results = json.loads(args.output.read_text()) if args.output.exists() else {}
    known = quality_models()
    chosen = args.models or list(known)
    unknown = sorted(set(chosen) - set(known))
    if unknown:
        parser.error(f"unknown models {unknown}; choose among {sorted(known)}")
    if args.part in ("all", "quality"):
        fresh = run_quality(chosen, args.output.with_name(UNITS.name))
        kept = [r for r in results.get("quality", []) if r["model"] not in chosen]
        results["quality"] = kept + fresh
    save = lambda: atomic_write_text(args.output, json.dumps(results, indent=1) + "\n")  # noqa: E731
    if args.part in ("all", "seeds"):
        results.pop("stability", None)  # the two-seed rows the seeds part replaces
        run_seeds([n for n in chosen if n in seed_models()], results, save)
    if args.part in ("all", "scale"):
        names = [n for n in chosen if n in SCALE]
        run_scale(names, args.scales, results, save)
    results["machine"] = run_child("machine")
    results["chapters"] = {name: entry.chapter for name, entry in MODELS.items()}
    atomic_write_text(args.output, json.dumps(results, indent=1) + "\n")
    with pd.option_context("display.width", 160, "display.max_columns", 20):
        if results.get("quality"):
            for protocol in ("RATING", "TOPN", "RETRIEVAL"):
                print(f"\n{protocol}\n", leaderboard.quality_table(results, protocol))
        if results.get("scale"):
            print("\nCost at scale\n", leaderboard.scale_table(results))
    print(f"\nwritten to {args.output}")


if __name__ == "__main__":
    main()
