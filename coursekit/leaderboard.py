"""The leaderboard (chapter 15): the benchmark suite's results as tables and plots.

The results are measured by ``python -m benchmarks.suite`` (see the README) and shipped with
coursekit as ``benchmark_results.json``, so the chapter reads them instead of training every
model again. Beside them, ``benchmark_units.npz`` keeps what each test unit got from each model
(:func:`unit_answers`), so that :func:`suite_units` gives a suite row its per-unit frame: its
confidence interval, and a paired comparison with a chapter's own model on the same units.
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from coursekit.data.splits import Split
    from coursekit.evaluation.intervals import Comparison
    from coursekit.models.base import Recommender

RESULTS = Path(__file__).with_name("benchmark_results.json")
UNITS = Path(__file__).with_name("benchmark_units.npz")
TOPN_K, RETRIEVAL_K = 10, 100  # the lists the TOPN and RETRIEVAL protocols read

# protocol -> (columns shown, the column that orders the table, lower is better)
PROTOCOL_COLUMNS = {
    "RATING": (["RMSE", "MAE"], "RMSE", True),
    "TOPN": (["HR@10", "NDCG@10", "catalog coverage", "novelty (bits)"], "HR@10", False),
    "RETRIEVAL": (["top-1", "top-5", "top-10", "top-50", "top-100"], "top-100", False),
}


# The suite trains every model with the settings of its chapter, except these (model -> how
# and why): the chapters show their own runs, and tests/quality/test_one_set_of_figures.py
# checks both that the others agree with their chapters and that these still differ.
TRAINED_OTHERWISE = {
    "GRU4Rec": "until early stopping decides (up to 200 epochs), and not trained again with the "
               "validation film; its chapter stops at 10 epochs to run in minutes, then trains "
               "again with it, and shows both runs",
    "SASRec": "until early stopping decides (up to 200 epochs), and not trained again with the "
              "validation film; its chapter stops at 12 epochs to run in minutes, then trains "
              "again with it, and shows both runs",
    **{name: "early-stopped on one choice of each user, drawn at random, and not trained again "
             "with it; its chapter stops on each user's second-latest choice, a validation part "
             "in time order, then trains again with it"
       for name in ("MF (BCE)", "BPR-MF", "NeuMF", "MLP (BCE)")},
}


def model_chapters() -> dict[str, int]:
    """The chapter that teaches each registered model (from the model registry)."""
    from coursekit.models.registry import MODELS

    return {name: entry.chapter for name, entry in MODELS.items()}


def load_results(path: str | Path | None = None) -> dict:
    """The benchmark results: ``quality``, ``scale``, ``synthetic_data``, ``machine``."""
    path = Path(path) if path is not None else RESULTS
    if not path.exists():
        raise FileNotFoundError(
            f"No benchmark results at {path}. Run `python -m benchmarks.suite` from the course "
            "repository to measure them.")
    return json.loads(path.read_text())


def measured_when(results: dict) -> str:
    """When each part of the results was measured, and by which coursekit: a sentence for
    chapters. Rows from before the suite dated its rows are counted as such."""
    parts = []
    for part in ("quality", "seeds", "scale"):
        rows = results.get(part, [])
        if not rows:
            continue
        days = sorted({r["measured_on"] for r in rows if "measured_on" in r})
        versions = sorted({r["coursekit_version"] for r in rows if "coursekit_version" in r})
        text = f"{part}: {len(rows)} row{'' if len(rows) == 1 else 's'}"
        if days:
            span = days[0] if len(days) == 1 else f"{days[0]} to {days[-1]}"
            text += f", measured {span} by coursekit {', '.join(versions)}"
        undated = sum("measured_on" not in r for r in rows)
        if undated:
            text += f" ({undated} from before the suite dated its rows)"
        parts.append(text)
    return "; ".join(parts) or "no benchmark rows"


def quality_table(results: dict, protocol: str) -> pd.DataFrame:
    """One row per model measured on ``protocol``, best first, with training seconds and the
    chapter that teaches the model."""
    if protocol not in PROTOCOL_COLUMNS:
        raise ValueError(f"protocol must be one of {sorted(PROTOCOL_COLUMNS)}, not {protocol!r}")
    columns, key, ascending = PROTOCOL_COLUMNS[protocol]
    rows = [r for r in results.get("quality", []) if r["protocol"] == protocol
            and "error" not in r]
    if not rows:
        raise ValueError(f"the results hold no measurement on the {protocol} protocol")
    frame = pd.DataFrame(rows).set_index("model")
    chapters = {**results.get("chapters", {}), **model_chapters()}
    frame["chapter"] = [chapters.get(m, "") for m in frame.index]
    frame = frame[columns + ["train_seconds", "chapter"]].sort_values(key, ascending=ascending)
    frame.index.name = None
    return frame


def seeds_table(results: dict) -> pd.DataFrame:
    """The suite's seed rows, one per model: its protocol and metric, and the mean, standard
    deviation and range of the figure over training seeds (same split) and, on RATING, over
    split seeds (the chapter's training seed)."""
    rows = []
    for row in results.get("seeds", []):
        if "error" in row:
            continue
        entry = {"model": row["model"], "protocol": row["protocol"], "metric": row["metric"]}
        for part, label in (("training_seeds", "training seeds"), ("split_seeds", "split seeds")):
            if part in row:
                values = list(row[part]["by_seed"].values())
                entry[f"{label}: n"] = len(values)
                entry[f"{label}: mean"] = row[part]["mean"]
                entry[f"{label}: sd"] = row[part]["sd"]
                entry[f"{label}: range"] = max(values) - min(values)
        rows.append(entry)
    if not rows:
        return pd.DataFrame()
    return pd.DataFrame(rows).set_index("model")


def _seed_row(results: dict, name: str) -> dict | None:
    """The suite's seed row of ``name``, or None."""
    return next((r for r in results.get("seeds", []) if r["model"] == name), None)


def seed_sentence(results: dict, name: str, figure: float | None = None,
                  run: str = "This chapter's run") -> str:
    """Where a run of ``name`` sits among the suite's seeds, as a sentence for a chapter:
    the mean and standard deviation over training seeds (and splits, on RATING), and whether
    ``figure`` (the run named ``run``, by default this chapter's) lies within the training
    seeds' range."""
    row = _seed_row(results, name)
    if row is None or "error" in row:
        raise KeyError(f"the suite's record has no seed row for {name!r}; run "
                       f"`python -m benchmarks.suite --part seeds --models '{name}'`")
    metric, parts = row["metric"], []
    for part, what in (("training_seeds", "training seeds"), ("split_seeds", "splits")):
        if part in row:
            values = list(row[part]["by_seed"].values())
            parts.append(f"over {len(values)} {what}, mean {row[part]['mean']:.4f}, sd "
                         f"{row[part]['sd']:.4f} ({min(values):.4f} to {max(values):.4f})")
    text = f"{name}, {metric} in the benchmark suite: " + "; ".join(parts)
    if figure is not None and "training_seeds" in row:
        values = list(row["training_seeds"]["by_seed"].values())
        inside = min(values) - 5e-5 <= figure <= max(values) + 5e-5
        text += (f". {run}, {figure:.4f}, is "
                 f"{'within' if inside else 'outside'} the training seeds' range")
        if row["training_seeds"]["sd"] > 0:
            z = (figure - row["training_seeds"]["mean"]) / row["training_seeds"]["sd"]
            text += f", {z:+.1f} sd from their mean"
    return text


def at_seed_mean(results: dict, name: str, figure: float, comparison: Comparison,
                 other: str, other_figure: float | None = None) -> str:
    """What ``comparison`` (this chapter's run of ``name``, scoring ``figure``, against
    ``other`` on the same test units) would say of runs at the mean of the suite's training
    seeds: the difference and its interval moved by the mean minus ``figure``, and, when
    ``other_figure`` is given (``other`` a single run too), by ``other``'s own mean minus it.
    An estimate, for runs far from their seeds' mean; the paired noise is taken as unchanged."""
    def seed_mean(model: str) -> float:
        row = _seed_row(results, model)
        if row is None or "training_seeds" not in row:
            raise KeyError(f"the suite's record has no training-seed row for {model!r}")
        return float(row["training_seeds"]["mean"])

    mean = seed_mean(name)
    by, means = mean - figure, f"{name}: mean {mean:.4f}, this run {figure:.4f}"
    if other_figure is not None:
        other_mean = seed_mean(other)
        by -= other_mean - other_figure
        means += f"; {other}: mean {other_mean:.4f}, this run {other_figure:.4f}"
    return (f"at the training seeds' means ({means}) the comparison would read: "
            + comparison.shifted(by).sentence(name, other))


def with_suite_rows(table: pd.DataFrame, models: dict[str, str], protocol: str = "RATING",
                    results: dict | None = None) -> pd.DataFrame:
    """``table`` (a ``metrics.compare`` table on ``protocol``'s own test part) with one row more
    per entry of ``models`` (label -> suite model name), holding the benchmark suite's figures
    for that protocol; the other columns count the same test part, so they are copied."""
    suite = quality_table(results if results is not None else load_results(), protocol)
    missing = sorted(set(models.values()) - set(suite.index))
    if missing:
        raise KeyError(f"the benchmark results hold no {protocol} row for {missing}")
    columns = [c for c in PROTOCOL_COLUMNS[protocol][0] if c in table.columns]
    rows = table.iloc[[0] * len(models)].set_axis(list(models))
    rows[columns] = suite.loc[list(models.values()), columns].to_numpy()
    return pd.concat([table, rows])


# --- what each test unit got, for intervals and paired comparisons ---------------------------


def units_key(name: str, protocol: str) -> str:
    """The key of a model's answers on a protocol in the units file."""
    return f"{protocol}/{name}"


def test_fingerprint(split: Split) -> str:
    """A short hash of the split's test part, (user, item) row by row: answers are read back
    only onto the test part they were measured on."""
    pairs = split.test[["user", "item"]].astype(str).to_numpy()
    return hashlib.sha256("\n".join(map(",".join, pairs)).encode()).hexdigest()[:16]


def unit_answers(name: str, model: Recommender, split: Split, protocol: str
                 ) -> dict[str, np.ndarray]:
    """What each test unit got from the fitted ``model`` called ``name`` on ``protocol``, as
    the suite keeps it (under :func:`units_key`, the test part's fingerprint beside it):
    RATING, each test rating's prediction (float32); TOPN, each test user's top-10 films
    (users in sorted order, -1 after a shorter list); RETRIEVAL, the rank of each test pair's
    film in its user's top 100, seen films included (0: not there)."""
    from coursekit.evaluation import metrics as ckm

    test = split.test
    if protocol == "RATING":
        answers = np.asarray(model.predict_frame(test, unknown="fallback"), dtype=np.float32)
    elif protocol == "TOPN":
        lists = model.recommend_all(n=TOPN_K)
        users = np.sort(test["user"].unique())
        answers = np.full((users.size, TOPN_K), -1, dtype=np.int64)
        row = pd.Series(np.arange(users.size), index=users).reindex(lists["user"]).to_numpy()
        kept = ~np.isnan(row) & (lists["rank"].to_numpy() <= TOPN_K)
        answers[row[kept].astype(np.int64), lists["rank"].to_numpy()[kept] - 1] = (
            lists["item"].to_numpy()[kept])
    elif protocol == "RETRIEVAL":
        lists = model.recommend_all(n=RETRIEVAL_K, users=test["user"].unique(),
                                    exclude_seen=False)
        answers = ckm._hit_ranks(test, lists).astype(np.uint8)
    else:
        raise ValueError(f"protocol must be 'RATING', 'TOPN' or 'RETRIEVAL', not {protocol!r}")
    key = units_key(name, protocol)
    return {key: answers, f"{key}#test": np.array(test_fingerprint(split))}


def save_unit_answers(answers: dict[str, np.ndarray], path: str | Path = UNITS) -> None:
    """Add ``answers`` (from :func:`unit_answers`) to the units file, replacing the same keys."""
    from coursekit.io import atomic_write_bytes

    path = Path(path)
    kept = {}
    if path.exists():
        with np.load(path) as stored:
            kept = {key: stored[key] for key in stored.files}
    kept.update(answers)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **dict(sorted(kept.items())))
    atomic_write_bytes(path, buffer.getvalue())


def suite_units(name: str, protocol: str, split: Split, path: str | Path | None = None
                ) -> pd.DataFrame:
    """The per-unit frame (:mod:`coursekit.evaluation.intervals`) of the benchmark suite's
    model ``name`` on ``protocol``, rebuilt from its kept answers on ``split``, which must be
    the split the suite measured (``rating_protocol``, ``topn_protocol`` or
    ``retrieval_protocol`` of ml-100k): an interval for a suite row, or a paired comparison
    with a model a chapter trains on the same split."""
    from coursekit.evaluation import intervals

    path = Path(path) if path is not None else UNITS
    if not path.exists():
        raise FileNotFoundError(f"No unit answers at {path}. Run `python -m benchmarks.suite "
                                "--part quality` from the course repository to measure them.")
    key = units_key(name, protocol)
    with np.load(path) as stored:
        if key not in stored.files:
            known = sorted(k.split("/", 1)[1] for k in stored.files
                           if k.startswith(f"{protocol}/") and not k.endswith("#test"))
            raise KeyError(f"the suite kept no {protocol} answers for {name!r}; it has them "
                           f"for {known}")
        answers, fingerprint = stored[key], str(stored[f"{key}#test"])
    if fingerprint != test_fingerprint(split):
        raise ValueError(f"this split's test part is not the one the suite measured {name!r} "
                         f"on: pass ckd.{protocol.lower()}_protocol(movielens) of ml-100k")
    test = split.test
    if protocol == "RATING":
        return intervals.rating_units(test["rating"].to_numpy(), answers.astype(np.float64),
                                      ids=test)
    if protocol == "TOPN":
        users = np.sort(test["user"].unique())
        lists = pd.DataFrame({"user": np.repeat(users, TOPN_K), "item": answers.ravel(),
                              "rank": np.tile(np.arange(1, TOPN_K + 1), users.size)})
        return intervals.topn_units(lists[lists["item"] >= 0], split, k=TOPN_K)
    return intervals.retrieval_units_from_ranks(test, answers)


def all_suite_units(results: dict, protocol: str, split: Split) -> dict[str, pd.DataFrame]:
    """:func:`suite_units` of every model measured on ``protocol``, in the table's order."""
    return {name: suite_units(name, protocol, split)
            for name in quality_table(results, protocol).index}


def level_table(results: dict, protocol: str, split: Split, *, n_boot: int = 1000,
                seed: int = 0, units: dict[str, pd.DataFrame] | None = None) -> pd.DataFrame:
    """:func:`quality_table` with the protocol's headline metric shown with its 95% interval
    and the models grouped instead of ranked by the fourth decimal: ``group`` 1 holds the best
    model and every model level with it (the paired interval of their difference holds
    zero), group 2 the best of the rest and those level with it, and so on
    (:func:`coursekit.evaluation.intervals.level_groups`). ``split`` is the protocol's split
    of ml-100k, on which the suite's kept answers are read (:func:`suite_units`); ``units``,
    when the caller has them already (:func:`all_suite_units`), spares reading them again."""
    from coursekit.evaluation import intervals

    table = quality_table(results, protocol)
    key = PROTOCOL_COLUMNS[protocol][1]
    units = units if units is not None else all_suite_units(results, protocol, split)
    groups = intervals.level_groups(units, key, n_boot=n_boot, seed=seed)
    shown = intervals.format_table(intervals.table_with_intervals(
        units, [key], n_boot=n_boot, seed=seed))
    label = f"{key} (95% interval)"
    table.insert(0, label, shown[key].reindex(table.index))
    table.insert(1, "group", groups["group"].reindex(table.index))
    table = table.drop(columns=key).sort_values(["group"], kind="stable")
    table.attrs["groups"] = groups
    return table


def scale_table(results: dict) -> pd.DataFrame:
    """Seconds, ratings per second and peak memory of each model at each scale: one row per
    model and scale, in order of size."""
    frame = pd.DataFrame(results.get("scale", []))
    if frame.empty:
        raise ValueError("the results hold no measurement at scale")
    sizes = {d["scale"]: d["ratings"] for d in results.get("synthetic_data", [])}
    frame["ratings (M)"] = [round(sizes.get(s, np.nan) / 1e6, 1) for s in frame["scale"]]
    # whole ratings per second, blank for a skipped run (not a float with a trailing .0)
    frame["ratings_per_second"] = frame["ratings_per_second"].round().astype("Int64")
    shown = ["model", "ratings (M)", "timed", "seconds", "ratings_per_second", "peak_rss_gb"]
    for extra in ("skipped", "error"):
        if extra in frame:
            frame[extra] = frame[extra].fillna("")  # most runs were neither: no NaN shown
            shown.append(extra)
    return frame[shown].sort_values(["ratings (M)", "model"]).reset_index(drop=True)


def plot_leaderboard(results: dict, ax_row: "list[Axes] | None" = None) -> "list[Axes]":
    """One panel per protocol, one above the other so that the model names can be read:
    each model's headline metric, Surprise in grey."""
    import matplotlib.pyplot as plt

    from coursekit import plots

    if ax_row is None:
        ax_row = list(plt.subplots(3, 1, figsize=(7.5, 10.5))[1])
    for ax, protocol in zip(ax_row, PROTOCOL_COLUMNS, strict=True):
        _, key, lower_better = PROTOCOL_COLUMNS[protocol]
        table = quality_table(results, protocol)[key].sort_values(ascending=not lower_better)
        colors = ["tab:gray" if name.startswith("Surprise") else "tab:blue"
                  for name in table.index]
        low, high = float(table.min()), float(table.max())
        if lower_better:  # an error: dots, on an axis that starts near the lowest value
            plots.dot_rows(ax, table, colors, decimals=3)
            ax.set_xlim(low - 0.02, high + 0.04)
        else:  # a hit rate: bars from zero
            bars = ax.barh(table.index, table.to_numpy(), color=colors)
            ax.bar_label(bars, fmt="%.3f", padding=2, fontsize=9)
            ax.set_xlim(0, high * 1.25)
        ax.set_title(f"{protocol}: {key} ({'lower' if lower_better else 'higher'} is better)")
        ax.tick_params(axis="y", labelsize=9)
    return ax_row


def plot_scaling(results: dict, ax_pair: "list[Axes] | None" = None) -> "list[Axes]":
    """Seconds per timed run and peak memory against the number of ratings, log-log."""
    import matplotlib.pyplot as plt

    if ax_pair is None:
        ax_pair = list(plt.subplots(1, 2, figsize=(12, 4))[1])
    table = scale_table(results).dropna(subset=["seconds"])
    for name, rows in table.groupby("model", sort=False):
        style = "--" if name.startswith("Surprise") else "-"
        ax_pair[0].plot(rows["ratings (M)"], rows["seconds"], style, marker="o", label=name)
        ax_pair[1].plot(rows["ratings (M)"], rows["peak_rss_gb"], style, marker="o", label=name)
    for ax, label in zip(ax_pair, ("seconds per timed run", "peak resident memory (GB)"),
                         strict=True):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("training ratings (millions)")
        ax.set_ylabel(label)
        ax.grid(True, which="both", alpha=0.3)
    ax_pair[1].legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1))
    return ax_pair
