"""Confidence intervals and paired comparisons for the course's three evaluation protocols.

Each protocol's figure is an aggregate of per-unit scores, and the units are what a
bootstrap resamples:

* RATING: one unit per test rating (``rating_units``); RMSE = sqrt(mean squared error),
  MAE = mean absolute error.
* TOPN: one unit per test user (``topn_units``); HR@10, NDCG@10 and novelty are (weighted)
  means over users, catalog coverage is recomputed from the resampled users' lists (its
  intervals centred on the estimate: see :func:`interval`).
* RETRIEVAL: one row per test (user, item) pair (``retrieval_units``), but the bootstrap
  resamples *users* with all their pairs (a cluster bootstrap): a user's pairs are not
  independent.

``protocol_units(model, split, protocol)`` builds the right frame for a fitted model, with the
same calls as ``evaluate`` of :mod:`coursekit.evaluation`, so that ``aggregate(units, metric)``
reproduces its figures. Then::

    interval(units, "RMSE")                  # Interval: 0.9058 [0.8990, 0.9127]
    compare(units_mf, units_bias, "RMSE")    # paired difference, verdict ahead/level/behind
    table_with_intervals({"MF": units_mf, "biases": units_bias})
    level_groups({...}, "HR@10")             # a leaderboard that groups level models

Intervals are percentile bootstraps seeded with ``numpy.random.default_rng(seed)``; all the
resamples of a chunk are drawn at once as an index matrix, so 20,000 ratings x 1,000 resamples
take a fraction of a second.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from coursekit.evaluation import metrics as ckm

if TYPE_CHECKING:
    from coursekit.data.splits import Split
    from coursekit.models.base import Recommender

Protocol = Literal["RATING", "TOPN", "RETRIEVAL"]
Verdict = Literal["ahead", "level", "behind"]

# How many indices one chunk of resamples may hold (chunk rows x units): bounds the memory.
_CHUNK_ELEMENTS = 1 << 21
LIST_COLUMN = "list"  # topn_units: each test user's top-k items, for catalog coverage
CATALOG_COLUMN = "catalog size"  # topn_units: the n_items coverage divides by


# --- Intervals and comparisons ----------------------------------------------------------


def _percent(level: float) -> str:
    return f"{100 * level:g}%"


def _fmt(value: float, decimals: int) -> str:
    """``value`` at ``decimals`` decimals, without a "-0.000" for what rounds to zero."""
    rounded = round(float(value), decimals)
    return f"{rounded + 0.0:.{decimals}f}"


def _decimals_clear_of_zero(low: float, high: float, decimals: int) -> int:
    """``decimals``, or more (up to 8), so that an interval clear of zero is never written as
    reaching it ("0.0000 to 0.0006")."""
    while decimals < 8 and 0.0 in (round(low, decimals), round(high, decimals)):
        decimals += 1
    return decimals


@dataclass(frozen=True)
class Interval:
    """A point estimate and its bootstrap confidence interval [low, high] at ``level``."""

    estimate: float
    low: float
    high: float
    level: float = 0.95

    @property
    def width(self) -> float:
        return self.high - self.low

    @property
    def half_width(self) -> float:
        """Half the width: the "±" of :meth:`format` (percentile intervals may be lopsided)."""
        return self.width / 2

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high

    def format(self, decimals: int = 4, style: Literal["interval", "pm"] = "interval") -> str:
        """``"0.9058 [0.8990, 0.9127]"`` (style ``"interval"``) or ``"0.9058 ± 0.0068"``
        (style ``"pm"``: half the interval's width) at ``decimals`` decimals."""
        if style == "interval":
            return (f"{_fmt(self.estimate, decimals)} [{_fmt(self.low, decimals)}, "
                    f"{_fmt(self.high, decimals)}]")
        if style == "pm":
            return f"{_fmt(self.estimate, decimals)} ± {_fmt(self.half_width, decimals)}"
        raise ValueError(f"style must be 'interval' or 'pm', not {style!r}")

    def __str__(self) -> str:
        return self.format()

    def __format__(self, spec: str) -> str:
        """``f"{iv:.3f}"`` formats at 3 decimals; an empty spec as :meth:`__str__`."""
        if not spec:
            return str(self)
        match = re.fullmatch(r"\.(\d+)f?", spec)
        if match is None:
            raise ValueError(f"an Interval formats as '.Nf' (e.g. f'{{iv:.3f}}'), not {spec!r}")
        return self.format(int(match.group(1)))


@dataclass(frozen=True)
class Comparison:
    """Model a minus model b on ``metric``, with the bootstrap interval of that difference.

    ``verdict`` is from a's point of view: ``"level"`` when the interval holds zero, else
    ``"ahead"`` when a is better (lower when ``lower_is_better``), ``"behind"`` when worse.
    """

    difference: float
    low: float
    high: float
    verdict: Verdict
    metric: str
    level: float = 0.95
    lower_is_better: bool = False
    paired: bool = True

    def sentence(self, name_a: str, name_b: str, decimals: int = 4) -> str:
        """The comparison in plain English, e.g. "MF is ahead of the biases by 0.0352 RMSE
        (95% interval 0.0290 to 0.0415)"."""
        level = _percent(self.level)
        if self.verdict == "level":
            return (f"{name_a} and {name_b} are level: the difference in {self.metric}, "
                    f"{_fmt(self.difference, decimals)}, has a {level} interval from "
                    f"{_fmt(self.low, decimals)} to {_fmt(self.high, decimals)}, which holds "
                    "zero")
        # the gap as a positive number, with its interval
        negate = (self.verdict == "ahead") == self.lower_is_better
        gap, low, high = ((-self.difference, -self.high, -self.low) if negate
                          else (self.difference, self.low, self.high))
        decimals = _decimals_clear_of_zero(low, high, decimals)
        relation = "ahead of" if self.verdict == "ahead" else "behind"
        return (f"{name_a} is {relation} {name_b} by {_fmt(gap, decimals)} {self.metric} "
                f"({level} interval {_fmt(low, decimals)} to {_fmt(high, decimals)})")

    def shifted(self, by: float) -> "Comparison":
        """The comparison had model a scored ``by`` higher on the metric (its difference and
        interval moved together, the verdict read again): an estimate of what a run of a
        elsewhere in its seed spread would show, the paired noise taken as unchanged."""
        low, high = self.low + by, self.high + by
        return replace(self, difference=self.difference + by, low=low, high=high,
                       verdict=_verdict(low, high, self.lower_is_better))

    def __str__(self) -> str:
        return (f"{self.metric}: a - b = {_fmt(self.difference, 4)} "
                f"[{_fmt(self.low, 4)}, {_fmt(self.high, 4)}] ({self.verdict})")


# --- Per-unit scores --------------------------------------------------------------------


def rating_units(actual: Any, predicted: Any, ids: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per test rating: ``squared error`` and ``absolute error`` (RMSE is the square
    root of the first column's mean, MAE the second's mean). The ``user`` and ``item``
    columns of ``ids`` (e.g. the test frame), when given, are kept, with its index."""
    a, p = ckm._pair(actual, predicted)
    error = a - p
    if ids is not None:
        if len(ids) != a.size:
            raise ValueError(f"ids has {len(ids)} rows for {a.size} ratings: pass the frame the "
                             "ratings came from, e.g. ids=split.test")
        index = ids.index
    elif isinstance(actual, pd.Series):
        index = actual.index
    else:
        index = pd.RangeIndex(a.size)
    frame = pd.DataFrame({"squared error": error ** 2, "absolute error": np.abs(error)},
                         index=index)
    if ids is not None:
        for position, column in enumerate(c for c in ("user", "item") if c in ids.columns):
            frame.insert(position, column, ids[column].to_numpy())
    return frame


def topn_units(top_n: pd.DataFrame, split: Split, k: int = 10) -> pd.DataFrame:
    """One row per test user (index ``user``) of a top-N evaluation on ``split``:

    * ``HR@k``: the share of the user's held-out items found in the top k; weighted by
      ``held-out items``, these average to :func:`~coursekit.evaluation.metrics.hit_rate`;
    * ``NDCG@k``: as :func:`~coursekit.evaluation.metrics.ndcg_at_k` with the held-out rows
      as relevant (a plain mean over users);
    * ``novelty (bits)``: the mean self-information of the user's top-k items. The course's
      figure is a mean over all list entries, so users weigh by ``list length``;
    * ``list`` (the user's top-k items) and ``catalog size``: catalog coverage is recomputed
      from the resampled users' lists.

    The units are the test users: novelty and coverage describe their lists, which are all
    the lists under the TOPN protocol (every ml-100k user has a held-out rating); a warning
    says when ``top_n`` also lists users without one.
    """
    held_out = split.test
    ckm._check_top_n(top_n, held_out)
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    if held_out.empty:
        raise ValueError("the split's test part is empty: no user to evaluate")
    head = top_n[top_n["rank"] <= k]
    n_relevant = held_out.groupby("user").size()
    users = n_relevant.index

    ranks = ckm._hit_ranks(held_out, head)
    if ranks.size != len(held_out):
        raise ValueError("the top-N lists repeat an item for the same user; each (user, item) "
                         "may appear once: drop the repeats with "
                         "top_n.drop_duplicates(['user', 'item'])")
    hits = pd.Series((ranks > 0).astype(np.float64)).groupby(held_out["user"].to_numpy()).sum()
    hit_share = hits.reindex(users).to_numpy() / n_relevant.to_numpy()

    marked = ckm._per_user_hits(held_out, top_n, k)
    dcg = (marked["hit"] / np.log2(marked["rank"] + 1)).groupby(marked["user"]).sum()
    discounts = np.cumsum(1.0 / np.log2(np.arange(2, k + 2)))
    ideal = discounts[np.minimum(n_relevant.to_numpy(), k) - 1]
    ndcg = dcg.reindex(users, fill_value=0).to_numpy() / ideal

    train = split.train
    n_users = train["user"].nunique()
    p = train.groupby("item")["user"].nunique() / n_users
    bits = -np.log2(head["item"].map(p).fillna(1.0 / (n_users + 1)).to_numpy(np.float64))
    by_user = pd.DataFrame({"user": head["user"].to_numpy(), "bits": bits}).groupby("user")
    lengths = by_user.size().reindex(users, fill_value=0).to_numpy()
    bit_sums = by_user["bits"].sum().reindex(users, fill_value=0.0).to_numpy()
    novelty = np.where(lengths > 0, bit_sums / np.maximum(lengths, 1), np.nan)

    ordered = head.sort_values(["user", "rank"], kind="stable")
    listed = ordered.groupby("user")["item"].agg(tuple).reindex(users)
    lists = [x if isinstance(x, tuple) else () for x in listed]
    extra = np.setdiff1d(pd.unique(head["user"]), users.to_numpy())
    if extra.size:
        warnings.warn(
            f"The top-N lists hold {extra.size} user(s) without a held-out rating, e.g. "
            f"{extra[:5].tolist()}; the units are the test users, so novelty and catalog "
            "coverage describe the test users' lists only and can differ from the metrics "
            "computed on every list.", stacklevel=2)

    frame = pd.DataFrame({
        f"HR@{k}": hit_share, f"NDCG@{k}": ndcg, "novelty (bits)": novelty,
        "held-out items": n_relevant.to_numpy(), "list length": lengths,
        LIST_COLUMN: pd.Series(lists, index=users, dtype=object),
        CATALOG_COLUMN: int(split.n_items),
    }, index=users)
    frame.index.name = "user"
    return frame


def retrieval_units(pairs: pd.DataFrame, top_n: pd.DataFrame,
                    ks: Sequence[int] = (1, 5, 10, 50, 100)) -> pd.DataFrame:
    """One row per test (user, item) pair: ``user``, ``item`` and a 0/1 column ``top-K`` per
    K (is the item among the user's K best?), whose means are
    :func:`~coursekit.evaluation.metrics.top_k_accuracy`. The frame names ``user`` as its
    bootstrap unit (``attrs["cluster"]``): intervals resample users with all their pairs."""
    if pairs.empty:
        raise ValueError("no (user, item) pairs to evaluate")
    ranks = ckm._hit_ranks(pairs, top_n)
    if ranks.size != len(pairs):
        raise ValueError("the ranked lists repeat an item for the same user; each (user, item) "
                         "may appear once: drop the repeats with "
                         "top_n.drop_duplicates(['user', 'item'])")
    return retrieval_units_from_ranks(pairs, ranks, ks)


def retrieval_units_from_ranks(pairs: pd.DataFrame, ranks: Any,
                               ks: Sequence[int] = (1, 5, 10, 50, 100)) -> pd.DataFrame:
    """:func:`retrieval_units` from the rank of each pair's item in its user's list (1 for
    the first place, 0 where the list does not hold it), one per row of ``pairs``."""
    ranks = np.asarray(ranks, dtype=np.int64)
    if ranks.shape != (len(pairs),):
        raise ValueError(f"{ranks.size} ranks for {len(pairs)} pairs: give one per pair")
    frame = pd.DataFrame({"user": pairs["user"].to_numpy(), "item": pairs["item"].to_numpy()},
                         index=pairs.index)
    for k in ks:
        frame[f"top-{k}"] = ((ranks > 0) & (ranks <= k)).astype(np.int64)
    frame.attrs["cluster"] = "user"
    return frame


def protocol_units(model: Recommender, split: Split, protocol: Protocol) -> pd.DataFrame:
    """The per-unit frame of a fitted model on ``protocol``, from the same predictions and
    lists as ``evaluate`` (:mod:`coursekit.evaluation`): aggregated, it gives its figures."""
    if protocol == "RATING":
        test = split.test
        predicted = model.predict_frame(test, unknown="fallback")
        return rating_units(test["rating"].to_numpy(), predicted, ids=test)
    if protocol == "TOPN":
        return topn_units(model.recommend_all(n=10), split, k=10)
    if protocol == "RETRIEVAL":
        # FactorizedTopK's definition: every film is a candidate, seen ones included.
        lists = model.recommend_all(n=100, users=split.test["user"].unique(),
                                    exclude_seen=False)
        return retrieval_units(split.test, lists)
    raise ValueError(f"protocol must be 'RATING', 'TOPN' or 'RETRIEVAL', not {protocol!r}")


# --- Statistics over resamples ----------------------------------------------------------


class _Ratio:
    """sum(num) / sum(den) over the (resampled) units, square-rooted for RMSE."""

    centred = False

    def __init__(self, num: np.ndarray, den: np.ndarray | None, root: bool) -> None:
        self.num, self.den, self.root = num, den, root
        self.n = num.size

    def _finish(self, value: Any) -> Any:
        return np.sqrt(value) if self.root else value

    def estimate(self) -> float:
        total = self.n if self.den is None else self.den.sum()
        if total <= 0:
            raise ValueError("every unit has a weight of 0: there is nothing to average")
        return float(self._finish(self.num.sum() / total))

    def draws(self, idx: np.ndarray) -> np.ndarray:
        num = self.num[idx].sum(axis=1)
        den = idx.shape[1] if self.den is None else self.den[idx].sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return self._finish(num / den)

    def by_cluster(self, codes: np.ndarray, n_clusters: int) -> _Ratio:
        den = np.ones(self.n) if self.den is None else self.den
        return _Ratio(np.bincount(codes, self.num, n_clusters),
                      np.bincount(codes, den, n_clusters), self.root)


class _Coverage:
    """The share of the catalogue found in the (resampled) units' lists.

    A resample holds only about 63% distinct units, so it covers less of the catalogue than
    all the units do: the bootstrap values sit below the estimate, whatever the model. Its
    intervals are therefore re-centred on the estimate (``centred``; see :func:`interval`).
    """

    centred = True

    def __init__(self, entry_unit: np.ndarray, entry_item: np.ndarray, n: int,
                 n_items: int) -> None:
        order = np.argsort(entry_item, kind="stable")  # entries grouped by item
        self.entry_unit, self.entry_item = entry_unit[order], entry_item[order]
        self.n, self.n_items = n, n_items
        new_item = np.ones(self.entry_item.size, dtype=bool)
        new_item[1:] = self.entry_item[1:] != self.entry_item[:-1]
        self.starts = np.flatnonzero(new_item)

    def estimate(self) -> float:
        return float(self.starts.size / self.n_items)

    def draws(self, idx: np.ndarray) -> np.ndarray:
        rows = idx.shape[0]
        if self.starts.size == 0:
            return np.zeros(rows)
        present = np.zeros((rows, self.n), dtype=bool)
        present[np.arange(rows)[:, None], idx] = True
        # an item is covered when any unit whose list holds it is in the resample
        covered = np.logical_or.reduceat(present[:, self.entry_unit], self.starts, axis=1)
        return covered.sum(axis=1) / self.n_items

    def by_cluster(self, codes: np.ndarray, n_clusters: int) -> _Coverage:
        return _Coverage(codes[self.entry_unit], self.entry_item, n_clusters, self.n_items)


_Statistic = _Ratio | _Coverage  # and _AUC, below, for compare_auc
_COLUMN_OF = {"RMSE": "squared error", "MSE": "squared error", "MAE": "absolute error"}


def _weight_column(metric: str) -> str | None:
    """The column a metric's per-unit values are weighted by, when the units carry it."""
    if re.fullmatch(r"HR@\d+", metric):
        return "held-out items"  # HR is a mean over held-out rows, not over users
    if metric.startswith("novelty"):
        return "list length"  # novelty is a mean over list entries, not over users
    return None


def metrics_in(units: pd.DataFrame) -> list[str]:
    """The metrics a per-unit frame supports, in the order the course reports them."""
    columns = [str(c) for c in units.columns]
    found = [m for m, c in (("RMSE", "squared error"), ("MAE", "absolute error"))
             if c in columns]
    found += [c for c in columns if re.fullmatch(r"HR@\d+", c)]
    found += [c for c in columns if re.fullmatch(r"NDCG@\d+", c)]
    if LIST_COLUMN in columns and CATALOG_COLUMN in columns:
        found.append("catalog coverage")
    found += [c for c in columns if c.startswith("novelty")]
    found += [c for c in columns if re.fullmatch(r"top-\d+", c)]
    return found


def _values(units: pd.DataFrame, column: str) -> np.ndarray:
    try:
        return units[column].to_numpy(dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(f"the column {column!r} of the units must hold numbers ({error})") \
            from error


def _row_statistic(units: pd.DataFrame, metric: str) -> _Statistic:
    if len(units) == 0:
        raise ValueError("the units frame is empty: there is nothing to resample")
    if metric == "catalog coverage":
        return _coverage_statistic(units)
    column = _COLUMN_OF.get(metric, metric)
    if column not in units.columns:
        raise ValueError(
            f"the units have no column for {metric!r} (looked for {column!r}); they support "
            f"{metrics_in(units) or 'no metric the course knows'} and hold the columns "
            f"{list(units.columns)}. Build them with rating_units, topn_units, retrieval_units "
            "or protocol_units, or name one of their columns.")
    x = _values(units, column)
    weight = _weight_column(metric)
    if weight is None or weight not in units.columns:
        w = None
    else:
        w = _values(units, weight)
        if (w < 0).any() or not np.isfinite(w).all():
            raise ValueError(f"the weights in {weight!r} must be finite and non-negative")
        x = np.where(w > 0, x, 0.0)  # a user with an empty list has no novelty (NaN)
    bad = ~np.isfinite(x)
    if bad.any():
        raise ValueError(f"{int(bad.sum())} value(s) of {column!r} are NaN or infinite, e.g. "
                         f"at {units.index[np.flatnonzero(bad)[:3]].tolist()}: drop those units "
                         "from every model's frame, or fix their scores")
    return _Ratio(x if w is None else x * w, w, root=metric == "RMSE")


def _coverage_statistic(units: pd.DataFrame) -> _Coverage:
    missing = [c for c in (LIST_COLUMN, CATALOG_COLUMN) if c not in units.columns]
    if missing:
        raise ValueError(f"catalog coverage needs each user's list: the units lack {missing}. "
                         "Build them with topn_units(top_n, split) (or protocol_units with "
                         "'TOPN'), which keeps the lists in the columns 'list' and "
                         "'catalog size'.")
    sizes = pd.unique(units[CATALOG_COLUMN])
    if sizes.size != 1 or not sizes[0] > 0:
        raise ValueError(f"'catalog size' must be one positive number, found {sizes[:5]}")
    lists = units[LIST_COLUMN].tolist()
    lengths = np.fromiter((len(x) for x in lists), dtype=np.int64, count=len(lists))
    items = [item for x in lists for item in x]
    codes = pd.factorize(pd.Series(items, dtype=object))[0] if items else np.zeros(0, np.int64)
    return _Coverage(np.repeat(np.arange(len(lists)), lengths), np.asarray(codes, np.int64),
                     len(lists), int(sizes[0]))


def _cluster_name(units: pd.DataFrame, cluster: str | bool | None) -> str | None:
    if cluster is False:
        return None
    if cluster is None:
        cluster = units.attrs.get("cluster")
        if cluster is None:
            return None
        if not _has_key(units, cluster):
            raise ValueError(
                f"the units name {cluster!r} as their bootstrap unit (units.attrs['cluster']) "
                f"but have no such column: keep it, or pass cluster=False to resample rows")
    if cluster is True or not isinstance(cluster, str):
        raise TypeError(f"cluster must be a column name, None or False, not {cluster!r}")
    if not _has_key(units, cluster):
        raise ValueError(
            f"cluster={cluster!r} is neither a column nor an index level of the units "
            f"(columns: {list(units.columns)}); pass the column that says which cluster each "
            "row belongs to, e.g. cluster='user'")
    return cluster


def _has_key(units: pd.DataFrame, name: str) -> bool:
    return name in units.columns or name in units.index.names


def _key(units: pd.DataFrame, name: str) -> np.ndarray:
    if name in units.columns:
        return units[name].to_numpy()
    return units.index.get_level_values(name).to_numpy()


def _clustered(statistic: _Statistic, units: pd.DataFrame, cluster: str | None) -> _Statistic:
    """``statistic`` over clusters of rows (the values of column ``cluster``), or as is."""
    if cluster is None:
        return statistic
    if not _has_key(units, cluster):
        raise ValueError(f"the units have no column {cluster!r} to cluster by (columns: "
                         f"{list(units.columns)})")
    codes, uniques = pd.factorize(pd.Series(_key(units, cluster)))
    if (codes < 0).any():
        raise ValueError(f"{int((codes < 0).sum())} row(s) have no {cluster!r} (NaN): every "
                         "row needs a cluster")
    return statistic.by_cluster(codes.astype(np.int64), len(uniques))


def _check_args(n_boot: int, level: float) -> None:
    if int(n_boot) != n_boot or n_boot < 1:
        raise ValueError(f"n_boot must be a positive whole number, got {n_boot!r}")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must lie strictly between 0 and 1 (e.g. 0.95), got {level!r}")


def _draws(statistics: Sequence[_Statistic], n_boot: int, seed: int,
           paired: bool) -> list[np.ndarray]:
    """``n_boot`` bootstrap values of each statistic. Paired: every statistic is computed on
    the same resampled units in each draw; else each draws its own."""
    rng = np.random.default_rng(seed)
    out = [np.empty(int(n_boot)) for _ in statistics]
    rows = max(1, _CHUNK_ELEMENTS // max(s.n for s in statistics))
    for start in range(0, int(n_boot), rows):
        size = min(rows, int(n_boot) - start)
        idx = None
        for statistic, values in zip(statistics, out, strict=True):
            if idx is None or not paired:
                idx = rng.integers(0, statistic.n, size=(size, statistic.n))
            values[start:start + size] = statistic.draws(idx)
    return out


def _bounds(values: np.ndarray, level: float, centre: float | None = None,
            limits: tuple[float, float] = (-np.inf, np.inf)) -> tuple[float, float]:
    """The percentile interval of the bootstrap ``values``; with ``centre``, of the values
    shifted so that their median is ``centre`` (then clipped to ``limits``)."""
    low, high = np.quantile(values, [(1 - level) / 2, (1 + level) / 2])
    if centre is not None:
        shift = centre - np.median(values)
        low, high = max(low + shift, limits[0]), min(high + shift, limits[1])
    return float(low), float(high)


def aggregate(units: pd.DataFrame, metric: str) -> float:
    """The protocol's figure from per-unit scores: RMSE = sqrt(mean squared error), catalog
    coverage from the lists, every other metric the (weighted) mean of its column."""
    return _row_statistic(units, metric).estimate()


def interval(units: pd.DataFrame, metric: str, *, n_boot: int = 1000, level: float = 0.95,
             seed: int = 0, cluster: str | bool | None = None) -> Interval:
    """Percentile bootstrap interval of ``metric`` over the units.

    Catalog coverage is recomputed from the resampled users' lists. A resample holds only
    about 63% distinct users, so every resample covers less than all the users do and the
    raw percentiles would lie wholly below the estimate; its interval keeps the spread of the
    bootstrap values but centres them on the estimate (their median moved onto it), clipped
    to [0, 1]: an approximate interval, the size of the chance variation.

    ``cluster`` (a column or index level, e.g. ``"user"``) resamples clusters with all their
    rows instead of rows; by default the frame's own bootstrap unit (``units.attrs
    ["cluster"]``: ``"user"`` for :func:`retrieval_units`), else rows; ``False``: rows.
    """
    _check_args(n_boot, level)
    rows = _row_statistic(units, metric)
    statistic = _clustered(rows, units, _cluster_name(units, cluster))
    (values,) = _draws([statistic], n_boot, seed, paired=True)
    estimate = rows.estimate()
    if statistic.centred:
        low, high = _bounds(values, level, estimate, (0.0, 1.0))
    else:
        low, high = _bounds(values, level)
    return Interval(estimate, low, high, level)


# --- Comparisons ------------------------------------------------------------------------


def infer_lower_is_better(metric: str) -> bool:
    """True for RMSE, MAE, MSE and names containing "error" or "loss"; else False."""
    name = metric.lower()
    return name in ("rmse", "mae", "mse") or "error" in name or "loss" in name


def _shown(value: Any) -> str:
    """A value as people write it (7, not np.int64(7))."""
    return repr(value.item() if isinstance(value, np.generic) else value)


def _check_aligned(a: pd.DataFrame, b: pd.DataFrame, cluster: str | None) -> None:
    hint = ("A paired comparison needs both models scored on the same test units (the same "
            "split and protocol, e.g. protocol_units(model, split, protocol) for each); pass "
            "paired=False for an unpaired interval instead.")
    if len(a) != len(b):
        raise ValueError(f"The units do not line up: units_a has {len(a):,} rows and units_b "
                         f"{len(b):,}. {hint}")
    if not a.index.equals(b.index):
        if (a.index.is_unique and b.index.is_unique
                and a.index.sort_values().equals(b.index.sort_values())):
            raise ValueError("The units do not line up: they hold the same units in a "
                             "different order. Align them first: "
                             "units_b = units_b.loc[units_a.index]")
        differ = np.flatnonzero(np.asarray(a.index.to_numpy() != b.index.to_numpy()))
        first = int(differ[0]) if differ.size else 0
        raise ValueError(f"The units do not line up: their indexes differ at {differ.size:,} "
                         f"of {len(a):,} positions, first at position {first} "
                         f"({_shown(a.index[first])} vs {_shown(b.index[first])}). {hint}")
    for column in dict.fromkeys(c for c in ("user", "item", cluster) if c):
        in_a, in_b = _has_key(a, column), _has_key(b, column)
        if in_a != in_b:
            if column == cluster:
                raise ValueError(f"only one of the two unit frames has the cluster column "
                                 f"{column!r}: both need it")
            continue
        if not in_a:
            continue
        va, vb = _key(a, column), _key(b, column)
        differ = np.flatnonzero(np.asarray(va != vb))
        if differ.size:
            first = int(differ[0])
            raise ValueError(f"The units do not line up: their {column!r} columns differ in "
                             f"{differ.size:,} of {len(a):,} rows, first at position {first} "
                             f"({_shown(va[first])} vs {_shown(vb[first])}). {hint}")


def _verdict(low: float, high: float, lower_is_better: bool) -> Verdict:
    if low <= 0.0 <= high:
        return "level"
    a_higher = low > 0.0
    return "ahead" if a_higher != lower_is_better else "behind"


def compare(units_a: pd.DataFrame, units_b: pd.DataFrame, metric: str, *,
            lower_is_better: bool | None = None, n_boot: int = 1000, level: float = 0.95,
            seed: int = 0, cluster: str | bool | None = None,
            paired: bool = True) -> Comparison:
    """Model a minus model b on ``metric`` with a bootstrap interval of the difference.

    Paired (the default): each draw resamples the same units for both models, so what the
    two share (hard ratings, hard users) cancels; the frames must line up row for row.
    ``paired=False`` resamples each model's units independently (see
    :func:`unpaired_interval`). ``lower_is_better`` is inferred from the metric's name
    (:func:`infer_lower_is_better`) when not given; ``cluster`` as in :func:`interval`,
    where the frames' own unit is taken from either frame. For catalog coverage the
    bootstrap differences are centred on the estimated difference, as :func:`interval` does.
    """
    _check_args(n_boot, level)
    lower = infer_lower_is_better(metric) if lower_is_better is None else bool(lower_is_better)
    name = _pair_cluster(units_a, units_b, cluster)
    if paired:
        _check_aligned(units_a, units_b, name)
    rows_a, rows_b = _row_statistic(units_a, metric), _row_statistic(units_b, metric)
    a, b = _clustered(rows_a, units_a, name), _clustered(rows_b, units_b, name)
    draws_a, draws_b = _draws([a, b], n_boot, seed, paired)
    return _comparison(rows_a.estimate() - rows_b.estimate(), draws_a - draws_b, a.centred,
                       metric, level, lower, paired)


def _pair_cluster(units_a: pd.DataFrame, units_b: pd.DataFrame,
                  cluster: str | bool | None) -> str | None:
    """The bootstrap unit of a comparison: ``cluster``, else the first frame's own unit,
    else the second's."""
    if cluster is None and "cluster" not in units_a.attrs:
        return _cluster_name(units_b, None)
    return _cluster_name(units_a, cluster)


def _comparison(difference: float, differences: np.ndarray, centred: bool, metric: str,
                level: float, lower: bool, paired: bool) -> Comparison:
    """The Comparison of an estimated ``difference`` from its bootstrap ``differences``
    (centred on the estimate for catalog coverage, as :func:`interval` does)."""
    if centred:
        low, high = _bounds(differences, level, difference, (-1.0, 1.0))
    else:
        low, high = _bounds(differences, level)
    return Comparison(float(difference), low, high, _verdict(low, high, lower), metric,
                      level, lower, paired)


def unpaired_interval(units_a: pd.DataFrame, units_b: pd.DataFrame, metric: str,
                      **kwargs: Any) -> Comparison:
    """:func:`compare` with ``paired=False``: the two models' units resampled independently,
    as if they had been scored on different test sets (wider when the models agree)."""
    return compare(units_a, units_b, metric, paired=False, **kwargs)


class _AUC:
    """The AUC of ``scores`` for the labels ``clicked`` over (resampled) rows: the chance that
    a click is scored above a non-click, ties counting half. A resample is a weight per row
    (how often it was drawn); the rows are sorted by score once, and each draw sums the
    weights of clicks and non-clicks within each group of equal scores."""

    def __init__(self, clicked: np.ndarray, scores: np.ndarray) -> None:
        order = np.argsort(scores, kind="stable")
        self.order, self.n = order, scores.size
        self.clicked = clicked[order].astype(np.float64)
        sorted_scores = scores[order]
        new_group = np.ones(self.n, dtype=bool)
        new_group[1:] = sorted_scores[1:] != sorted_scores[:-1]
        self.starts = np.flatnonzero(new_group)

    centred = False

    def estimate(self) -> float:
        return float(self.from_weights(np.ones((1, self.n)))[0])

    def draws(self, idx: np.ndarray) -> np.ndarray:
        """The AUC of each resample of ``idx`` (draws x rows of row numbers)."""
        rows, n = idx.shape
        offsets = (np.arange(rows) * n)[:, None]
        weights = np.bincount((idx + offsets).ravel(), minlength=rows * n).reshape(rows, n)
        return self.from_weights(weights.astype(np.float64))

    def from_weights(self, weights: np.ndarray) -> np.ndarray:
        """The AUC under each row of ``weights`` (draws x rows, in the rows' own order)."""
        w = weights[:, self.order]
        clicks = np.add.reduceat(w * self.clicked, self.starts, axis=1)
        others = np.add.reduceat(w * (1.0 - self.clicked), self.starts, axis=1)
        below = np.cumsum(others, axis=1) - others  # non-clicks scored lower than the group
        pairs = clicks.sum(axis=1) * others.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return (clicks * (below + 0.5 * others)).sum(axis=1) / pairs


def compare_auc(clicked: Any, scores_a: Any, scores_b: Any, *, n_boot: int = 1000,
                level: float = 0.95, seed: int = 0) -> Comparison:
    """The AUC of scores a minus that of scores b for the same rows (``clicked``: which rows
    are clicks), with a paired bootstrap interval over the rows: each draw resamples the
    same rows for both. Higher is better; the verdict is from a's point of view."""
    _check_args(n_boot, level)
    y = np.asarray(clicked).astype(bool)
    a, b = (np.asarray(s, dtype=np.float64) for s in (scores_a, scores_b))
    if not y.shape == a.shape == b.shape or y.ndim != 1:
        raise ValueError(f"clicked and the two score arrays must be one row each, of the same "
                         f"length; got shapes {y.shape}, {a.shape} and {b.shape}")
    if y.all() or not y.any():
        raise ValueError("AUC needs both clicks and non-clicks among the rows")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError("the scores hold NaN or infinite values: an AUC needs finite scores")
    auc_a, auc_b = _AUC(y, a), _AUC(y, b)
    draws_a, draws_b = _draws([auc_a, auc_b], n_boot, seed, paired=True)
    differences = draws_a - draws_b  # NaN where a resample drew one class only
    return _comparison(auc_a.estimate() - auc_b.estimate(), differences[np.isfinite(differences)],
                       False, "AUC", level, False, True)


class _PairedDraws:
    """:func:`compare` of many pairs among the same models, each model bootstrapped once.

    With the same seed, paired draws resample the same units for every model of the same
    test part, so a model's bootstrap values are the same in every pair it is in: computing
    them once per model gives exactly what :func:`compare` gives pair by pair."""

    def __init__(self, units_by_model: Mapping[str, pd.DataFrame], metric: str, lower: bool,
                 n_boot: int, level: float, seed: int, cluster: str | bool | None) -> None:
        _check_args(n_boot, level)
        self.units, self.metric, self.lower = units_by_model, metric, lower
        self.n_boot, self.level, self.seed, self.cluster = n_boot, level, seed, cluster
        self._kept: dict[tuple[str, str | None], tuple[float, np.ndarray, bool]] = {}

    def _of(self, name: str, cluster: str | None) -> tuple[float, np.ndarray, bool]:
        if (name, cluster) not in self._kept:
            units = self.units[name]
            rows = _row_statistic(units, self.metric)
            statistic = _clustered(rows, units, cluster)
            (draws,) = _draws([statistic], self.n_boot, self.seed, paired=True)
            self._kept[name, cluster] = (rows.estimate(), draws, statistic.centred)
        return self._kept[name, cluster]

    def compare(self, a: str, b: str) -> Comparison:
        units_a, units_b = self.units[a], self.units[b]
        cluster = _pair_cluster(units_a, units_b, self.cluster)
        _check_aligned(units_a, units_b, cluster)
        # aligned frames have as many units (or clusters), so the same indices were drawn
        (est_a, draws_a, centred), (est_b, draws_b, _) = self._of(a, cluster), self._of(b, cluster)
        return _comparison(est_a - est_b, draws_a - draws_b, centred, self.metric, self.level,
                           self.lower, True)


def _ranked(units_by_model: Mapping[str, pd.DataFrame], metric: str,
            lower: bool) -> list[tuple[str, float]]:
    if not units_by_model:
        raise ValueError("units_by_model is empty: give at least one model's units")
    estimates = [(name, aggregate(units, metric)) for name, units in units_by_model.items()]
    return sorted(estimates, key=lambda pair: pair[1] if lower else -pair[1])


def compare_all(units_by_model: Mapping[str, pd.DataFrame], metric: str,
                reference: str | None = None, *, lower_is_better: bool | None = None,
                n_boot: int = 1000, level: float = 0.95, seed: int = 0,
                cluster: str | bool | None = None) -> pd.DataFrame:
    """Each model against ``reference`` (default: the best by ``metric``), best first: the
    metric, the paired difference model - reference with its interval, and the verdict
    from the model's point of view (``"reference"`` for the reference itself)."""
    lower = infer_lower_is_better(metric) if lower_is_better is None else bool(lower_is_better)
    ranked = _ranked(units_by_model, metric, lower)
    reference = ranked[0][0] if reference is None else reference
    if reference not in units_by_model:
        raise ValueError(f"reference {reference!r} is not one of the models "
                         f"{list(units_by_model)}")
    rows = {}
    paired = _PairedDraws(units_by_model, metric, lower, n_boot, level, seed, cluster)
    for name, estimate in ranked:
        if name == reference:
            rows[name] = (estimate, 0.0, 0.0, 0.0, "reference")
            continue
        c = paired.compare(name, reference)
        rows[name] = (estimate, c.difference, c.low, c.high, c.verdict)
    frame = pd.DataFrame.from_dict(rows, orient="index",
                                   columns=[metric, "difference", "low", "high", "verdict"])
    frame.index.name = "model"
    frame.attrs.update(reference=reference, level=level)
    return frame


def level_groups(units_by_model: Mapping[str, pd.DataFrame], metric: str, *,
                 lower_is_better: bool | None = None, n_boot: int = 1000, level: float = 0.95,
                 seed: int = 0, cluster: str | bool | None = None) -> pd.DataFrame:
    """A leaderboard that groups models level with each other instead of ranking them by
    the fourth decimal.

    The rule: sort the models by ``metric``, best first. The best model not yet placed
    leads a new group; every other unplaced model whose paired difference with that leader
    has an interval holding zero joins the group. Repeat until every model is placed.
    Columns: the metric, ``group`` (1 = the best), ``leader``, and the difference model -
    leader with its interval (0 for a leader).
    """
    lower = infer_lower_is_better(metric) if lower_is_better is None else bool(lower_is_better)
    remaining = _ranked(units_by_model, metric, lower)
    paired = _PairedDraws(units_by_model, metric, lower, n_boot, level, seed, cluster)
    rows: dict[str, tuple[float, int, str, float, float, float]] = {}
    group = 0
    while remaining:
        group += 1
        leader, best = remaining.pop(0)
        rows[leader] = (best, group, leader, 0.0, 0.0, 0.0)
        unplaced = []
        for name, estimate in remaining:
            c = paired.compare(name, leader)
            if c.verdict == "level":
                rows[name] = (estimate, group, leader, c.difference, c.low, c.high)
            else:
                unplaced.append((name, estimate))
        remaining = unplaced
    frame = pd.DataFrame.from_dict(
        rows, orient="index", columns=[metric, "group", "leader", "difference", "low", "high"])
    frame = frame.sort_values("group", kind="stable")
    frame.index.name = "model"
    frame.attrs["level"] = level
    return frame


# --- Tables -----------------------------------------------------------------------------


def table_with_intervals(units_by_model: Mapping[str, pd.DataFrame],
                         metrics: Sequence[str] | None = None, *, n_boot: int = 1000,
                         level: float = 0.95, seed: int = 0,
                         cluster: str | bool | None = None) -> pd.DataFrame:
    """One row per model: for each metric its estimate and interval, in the columns
    ``M``, ``M low``, ``M high``. ``metrics`` defaults to those every model's units support
    (:func:`metrics_in`). Display it with :func:`format_table`."""
    if not units_by_model:
        raise ValueError("units_by_model is empty: give at least one model's units")
    if metrics is None:
        frames = list(units_by_model.values())
        metrics = [m for m in metrics_in(frames[0])
                   if all(m in metrics_in(units) for units in frames[1:])]
        if not metrics:
            raise ValueError("the units share no metric the course knows: name them, e.g. "
                             "metrics=['RMSE']")
    rows = {}
    for name, units in units_by_model.items():
        row: dict[str, float] = {}
        for metric in metrics:
            iv = interval(units, metric, n_boot=n_boot, level=level, seed=seed,
                          cluster=cluster)
            row.update({metric: iv.estimate, f"{metric} low": iv.low,
                        f"{metric} high": iv.high})
        rows[name] = row
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.index.name = "model"
    frame.attrs["level"] = level
    return frame


def format_table(table: pd.DataFrame, decimals: int | Mapping[str, int] = 4,
                 style: Literal["pm", "interval"] = "pm") -> pd.DataFrame:
    """A :func:`table_with_intervals` table as strings, one column per metric:
    ``"0.9058 ± 0.0068"`` (style ``"pm"``, half the interval's width) or
    ``"0.906 [0.899, 0.913]"`` (style ``"interval"``). ``decimals`` may differ per metric
    (a dict; 4 for a metric it does not name)."""
    found = [c for c in table.columns
             if f"{c} low" in table.columns and f"{c} high" in table.columns]
    if not found:
        raise ValueError("the table has no metric with 'low' and 'high' columns: build it with "
                         "table_with_intervals")
    level = float(table.attrs.get("level", 0.95))
    columns = {}
    for metric in found:
        d = decimals.get(metric, 4) if isinstance(decimals, Mapping) else int(decimals)
        columns[metric] = [
            Interval(float(e), float(lo), float(hi), level).format(d, style)
            for e, lo, hi in zip(table[metric], table[f"{metric} low"],
                                 table[f"{metric} high"], strict=True)]
    return pd.DataFrame(columns, index=table.index)


def comparison_table(units_by_model: Mapping[str, pd.DataFrame], metric: str,
                     reference: str | None = None, *, decimals: int = 4, n_boot: int = 1000,
                     level: float = 0.95, seed: int = 0,
                     cluster: str | bool | None = None) -> pd.DataFrame:
    """The table a chapter shows, best first: each model's ``metric`` with its interval
    (``"0.9058 ± 0.0068"``), its paired difference from ``reference`` (default: the best) with
    the difference's interval, and the verdict from the model's side (ahead, level, behind):
    the words a chapter may use of the two."""
    compared = compare_all(units_by_model, metric, reference, n_boot=n_boot, level=level,
                           seed=seed, cluster=cluster)
    reference = compared.attrs["reference"]
    shown = format_table(table_with_intervals(units_by_model, [metric], n_boot=n_boot,
                                              level=level, seed=seed, cluster=cluster),
                         decimals)
    label = f"{metric} - {reference}"
    rows = {}
    for name, row in compared.iterrows():
        shown_decimals = (decimals if row["verdict"] in ("reference", "level") else
                          _decimals_clear_of_zero(row["low"], row["high"], decimals))
        difference = ("" if row["verdict"] == "reference" else
                      f"{row['difference']:+.{shown_decimals}f} "
                      f"[{row['low']:+.{shown_decimals}f}, {row['high']:+.{shown_decimals}f}]")
        rows[name] = {f"{metric} ({_percent(level)} interval)": shown.loc[name, metric],
                      label: difference, "verdict": row["verdict"]}
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.index.name = "model"
    frame.attrs.update(reference=reference, level=level)
    return frame


__all__ = [
    "Comparison", "Interval", "aggregate", "compare", "compare_all", "compare_auc",
    "comparison_table",
    "format_table",
    "infer_lower_is_better", "interval", "level_groups", "metrics_in", "protocol_units",
    "rating_units", "retrieval_units", "retrieval_units_from_ranks", "table_with_intervals",
    "topn_units",
    "unpaired_interval",
]
