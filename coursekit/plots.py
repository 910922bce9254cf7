"""The figures the chapters draw, so that every chapter draws them the same way."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from matplotlib.axes import Axes


def _axes(ax: "Axes | None") -> "Axes":
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(6, 3.5))[1]


def plot_rating_distribution(ratings: pd.DataFrame, ax: "Axes | None" = None) -> "Axes":
    """Bar chart of how often each rating value is given."""
    ax = _axes(ax)
    counts = ratings["rating"].value_counts().sort_index()
    width = 0.8 * float(np.min(np.diff(counts.index))) if len(counts) > 1 else 0.8
    ax.bar(counts.index, counts.to_numpy() / len(ratings), width=width, color="tab:blue")
    ax.set_xticks(counts.index)
    ax.set_xlabel("rating")
    ax.set_ylabel("share of all ratings")
    ax.set_title(f"Rating distribution (mean {ratings['rating'].mean():.2f})")
    return ax


def head_share(ratings: pd.DataFrame, item_fraction: float = 0.2) -> float:
    """Share of all ratings that go to the most-rated ``item_fraction`` of items."""
    counts = np.sort(ratings["item"].value_counts().to_numpy())[::-1]
    n_head = max(1, int(round(item_fraction * counts.size)))
    return float(counts[:n_head].sum() / counts.sum())


def plot_long_tail(
    ratings: pd.DataFrame, item_fraction: float = 0.2, ax: "Axes | None" = None
) -> "Axes":
    """Ratings per item, items sorted from most to least rated: the long tail."""
    ax = _axes(ax)
    counts = np.sort(ratings["item"].value_counts().to_numpy())[::-1]
    n_head = max(1, int(round(item_fraction * counts.size)))
    rank = np.arange(1, counts.size + 1)
    ax.fill_between(rank[:n_head], counts[:n_head], color="tab:orange", alpha=0.8,
                    label=f"top {item_fraction:.0%} of items: "
                          f"{head_share(ratings, item_fraction):.0%} of ratings")
    ax.fill_between(rank[n_head - 1:], counts[n_head - 1:], color="tab:blue", alpha=0.6,
                    label="the long tail")
    ax.set_xlabel("item rank by number of ratings")
    ax.set_ylabel("ratings per item")
    ax.set_title("Item popularity")
    ax.legend()
    return ax


def plot_ratings_per_user(ratings: pd.DataFrame, ax: "Axes | None" = None) -> "Axes":
    """Histogram of how many ratings each user gave (logarithmic bins)."""
    ax = _axes(ax)
    per_user = ratings["user"].value_counts().to_numpy()
    bins = np.logspace(np.log10(per_user.min()), np.log10(per_user.max() + 1), 30)
    ax.hist(per_user, bins=bins, color="tab:green")
    ax.set_xscale("log")
    # a few round counts as ticks, written out, and no labels on the minor ticks
    ticks = [t for t in (10, 20, 50, 100, 200, 500, 1000, 2000, 5000)
             if per_user.min() <= t <= per_user.max()]
    ax.set_xticks(ticks, [f"{t:,}" for t in ticks])
    from matplotlib.ticker import NullFormatter

    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.axvline(np.median(per_user), color="black", linestyle="--",
               label=f"median {np.median(per_user):.0f}")
    ax.set_xlabel("ratings per user (log scale)")
    ax.set_ylabel("users")
    ax.set_title("User activity")
    ax.legend()
    return ax


def plot_training_curves(
    history: pd.DataFrame, metric: str = "rmse", ax: "Axes | None" = None, label: str = ""
) -> "Axes":
    """Training and validation ``metric`` per epoch, with the best validation epoch marked."""
    ax = _axes(ax)
    prefix = f"{label}: " if label else ""
    ax.plot(history.index, history[metric], marker="o", ms=3, label=f"{prefix}training")
    val = history[f"val_{metric}"]
    ax.plot(history.index, val, marker="o", ms=3, label=f"{prefix}validation")
    best = int(val.idxmin())
    ax.axvline(best, color="grey", linestyle=":", label=f"{prefix}best epoch ({best})")
    ax.set_xlabel("epoch")
    ax.set_ylabel(metric.upper())
    ax.legend()
    return ax


def dot_rows(ax: "Axes", values: pd.Series, colors: str | list[str], decimals: int) -> None:
    """One labelled dot per entry of ``values`` (its index as the row names), the first entry
    at the bottom: for a metric whose axis starts near its lowest value, where bars would
    exaggerate the gaps."""
    rows = np.arange(len(values))
    ax.scatter(values.to_numpy(), rows, color=colors, zorder=3)
    for row, value in zip(rows, values.to_numpy(), strict=True):
        ax.annotate(f"{value:.{decimals}f}", (value, row), xytext=(5, 0), fontsize=9,
                    textcoords="offset points", va="center")
    ax.set_yticks(rows, values.index)
    ax.grid(axis="y", color="0.9")
    ax.set_ylim(-0.6, len(values) - 0.4)


def plot_model_comparison(
    table: pd.DataFrame, metric: str = "RMSE", ax: "Axes | None" = None,
    reference: float | None = None, reference_label: str = "",
) -> "Axes":
    """One dot per model on one metric, best at the top, values printed. Dots, not bars: the
    axis starts near the lowest value, where a bar's length would exaggerate the gaps."""
    ax = _axes(ax)
    ordered = table[metric].astype(float).sort_values(ascending=False)
    values = ordered.to_numpy()
    dot_rows(ax, ordered, "tab:blue", decimals=4)
    span = max(float(values.max() - values.min()), 1e-3)
    ax.set_xlim(values.min() - 0.1 * span, values.max() + 0.35 * span)
    if reference is not None:
        ax.axvline(reference, color="tab:red", linestyle="--", label=reference_label)
        ax.legend(loc="lower right")
    ax.set_xlabel(f"{metric} on the test part (lower is better)")
    return ax
