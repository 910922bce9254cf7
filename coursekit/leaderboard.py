"""The leaderboard (chapter 16): the benchmark suite's results as tables and plots.

The results are measured by ``python -m benchmarks.suite`` (see the README) and shipped with
coursekit as ``benchmark_results.json``, so the chapter reads them instead of training every
model again.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from matplotlib.axes import Axes

RESULTS = Path(__file__).with_name("benchmark_results.json")

# protocol -> (columns shown, the column that orders the table, lower is better)
PROTOCOL_COLUMNS = {
    "RATING": (["RMSE", "MAE"], "RMSE", True),
    "TOPN": (["HR@10", "NDCG@10", "catalog coverage", "novelty (bits)"], "HR@10", False),
    "RETRIEVAL": (["top-1", "top-5", "top-10", "top-50", "top-100"], "top-100", False),
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
    """When the results' rows were measured, and by which coursekit: a sentence for chapters.

    Rows measured before the suite stamped them count as "unstamped"."""
    rows = [r for part in ("quality", "stability", "scale") for r in results.get(part, [])]
    days = sorted({r.get("measured_on", "unstamped") for r in rows})
    versions = sorted({r.get("coursekit_version", "unstamped") for r in rows})
    machine_day = results.get("machine", {}).get("date", "unknown")
    return (f"{len(rows)} benchmark rows, measured on {', '.join(days)} (suite last run "
            f"{machine_day}) by coursekit {', '.join(versions)}")


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


def scale_table(results: dict) -> pd.DataFrame:
    """Seconds, ratings per second and peak memory of each model at each scale: one row per
    model and scale, in order of size."""
    frame = pd.DataFrame(results.get("scale", []))
    if frame.empty:
        raise ValueError("the results hold no measurement at scale")
    sizes = {d["scale"]: d["ratings"] for d in results.get("synthetic_data", [])}
    frame["ratings (M)"] = [round(sizes.get(s, np.nan) / 1e6, 1) for s in frame["scale"]]
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

    if ax_row is None:
        ax_row = list(plt.subplots(3, 1, figsize=(7.5, 10.5))[1])
    for ax, protocol in zip(ax_row, PROTOCOL_COLUMNS, strict=True):
        _, key, lower_better = PROTOCOL_COLUMNS[protocol]
        table = quality_table(results, protocol)[key].sort_values(ascending=not lower_better)
        colors = ["tab:gray" if name.startswith("Surprise") else "tab:blue"
                  for name in table.index]
        bars = ax.barh(table.index, table.to_numpy(), color=colors)
        ax.bar_label(bars, fmt="%.3f", padding=2, fontsize=9)
        low, high = float(table.min()), float(table.max())
        if lower_better:
            ax.set_xlim(low - 0.05, high + 0.04)
        else:
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
