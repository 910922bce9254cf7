"""Train/validation/test splits, and the course's three evaluation protocols.

Every split function is deterministic for a given seed and returns a :class:`Split` whose id
encoders are fitted on the training part only.
"""

from __future__ import annotations

from dataclasses import InitVar, dataclass, field, replace

import numpy as np
import pandas as pd

from coursekit.data.encoding import IdEncoder
from coursekit.data.movielens import MovieLens, load_movielens
from coursekit.data.validation import (
    DuplicatePolicy,
    check_rating_scale,
    check_time_order,
    in_time_order,
    infer_rating_scale,
    validate_ratings,
)
from coursekit.errors import EmptySplitError

PROTOCOL_DATASET = "ml-100k"
PROTOCOL_SEED = 42


@dataclass
class Split:
    """Parts of a ratings table, with encoders fitted on ``train``."""

    train: pd.DataFrame
    test: pd.DataFrame
    validation: pd.DataFrame | None = None
    name: str = "split"
    rating_scale: tuple[float, float] | None = None  # None: inferred from the ratings
    dataset: MovieLens | None = field(default=None, repr=False)
    users: IdEncoder = field(init=False, repr=False)
    items: IdEncoder = field(init=False, repr=False)
    # True when the parts were cut from a table validate_ratings already returned (the split
    # functions below), so that a large table is not checked twice.
    validated: InitVar[bool] = False

    def __post_init__(self, validated: bool) -> None:
        for part, frame in self.parts().items():
            if frame is None:
                continue
            if not validated:
                setattr(self, part, validate_ratings(frame))
            if len(frame) == 0:
                raise EmptySplitError(
                    f"The {part} part of split '{self.name}' has no ratings. Use a larger "
                    "dataset or a different fraction, so that every part receives some "
                    "ratings."
                )
        present = [f for f in self.parts().values() if f is not None]
        if self.rating_scale is None:
            self.rating_scale = infer_rating_scale(pd.concat([f["rating"] for f in present]))
        self.rating_scale = (float(self.rating_scale[0]), float(self.rating_scale[1]))
        for frame in present:
            check_rating_scale(frame, self.rating_scale)
        self.users = IdEncoder("user").fit(self.train["user"])
        self.items = IdEncoder("item").fit(self.train["item"])

    def parts(self) -> dict[str, pd.DataFrame | None]:
        return {"train": self.train, "validation": self.validation, "test": self.test}

    @property
    def n_users(self) -> int:
        return len(self.users)

    @property
    def n_items(self) -> int:
        return len(self.items)

    def carve_validation(self, fraction: float = 0.1, seed: int = PROTOCOL_SEED) -> "Split":
        """A copy whose training part gives ``fraction`` of its ratings to a validation part.

        The test part is untouched, so hyper-parameters can be chosen without looking at it.
        """
        train, validation = _random_parts(self.train, fraction, seed)
        return replace(self, train=train, validation=validation, name=self.name + "+val",
                       validated=True)

    def summary(self) -> pd.DataFrame:
        """Ratings, users and items in each part, and how many of its ratings are by a user,
        or of an item, that the training part does not hold."""
        rows = {}
        for part, frame in self.parts().items():
            if frame is None:
                continue
            rows[part] = {
                "ratings": len(frame),
                "users": frame["user"].nunique(),
                "items": frame["item"].nunique(),
                "ratings of users unseen in train":
                    int((~frame["user"].isin(self.train["user"])).sum()),
                "ratings of items unseen in train":
                    int((~frame["item"].isin(self.train["item"])).sum()),
            }
        return pd.DataFrame(rows).T

    def __repr__(self) -> str:
        sizes = ", ".join(f"{k}={len(v):,}" for k, v in self.parts().items() if v is not None)
        return f"Split({self.name!r}: {sizes})"


def _check_fraction(fraction: float, what: str) -> None:
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"{what} must lie strictly between 0 and 1, got {fraction}.")


def _check_not_empty(ratings: pd.DataFrame) -> None:
    if len(ratings) == 0:
        raise EmptySplitError("Cannot split an empty ratings table: it has no rows.")


def _canonical(ratings: pd.DataFrame) -> pd.DataFrame:
    """Sort by (user, item) so that a split does not depend on the order rows were read in."""
    return ratings.sort_values(["user", "item"], kind="stable").reset_index(drop=True)


def _random_parts(
    ratings: pd.DataFrame, fraction: float, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    _check_not_empty(ratings)
    _check_fraction(fraction, "The held-out fraction")
    ratings = _canonical(ratings)
    order = np.random.default_rng(seed).permutation(len(ratings))
    n_out = int(round(fraction * len(ratings)))
    held_out = np.zeros(len(ratings), dtype=bool)
    held_out[order[:n_out]] = True
    return ratings[~held_out].reset_index(drop=True), ratings[held_out].reset_index(drop=True)


def _checked(
    ratings: pd.DataFrame, dataset: MovieLens | None, rating_scale: tuple[float, float] | None,
    on_duplicates: DuplicatePolicy,
) -> tuple[pd.DataFrame, dict]:
    """The table validated once at the boundary, and the split's rating scale: the one given,
    else the dataset's, else inferred from the ratings."""
    scale = rating_scale or (dataset.rating_scale if dataset is not None else None)
    ratings = validate_ratings(ratings, scale, on_duplicates)
    _check_not_empty(ratings)
    if scale is None:
        scale = infer_rating_scale(ratings)
    return ratings, {"rating_scale": scale, "dataset": dataset, "validated": True}


def random_split(
    ratings: pd.DataFrame,
    test_size: float = 0.2,
    seed: int = PROTOCOL_SEED,
    validation_size: float = 0.0,
    *,
    dataset: MovieLens | None = None,
    rating_scale: tuple[float, float] | None = None,
    on_duplicates: DuplicatePolicy = "error",
    name: str = "random",
) -> Split:
    """Ratings shuffled with ``seed``; ``test_size`` of them held out for testing.

    ``validation_size`` > 0 moves that fraction of the *training* ratings to a validation part.
    """
    ratings, meta = _checked(ratings, dataset, rating_scale, on_duplicates)
    train, test = _random_parts(ratings, test_size, seed)
    validation = None
    if validation_size:
        train, validation = _random_parts(train, validation_size, seed + 1)
    return Split(train, test, validation, name=name, **meta)


def _per_user_rank(ratings: pd.DataFrame, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A random rank of each rating among its user's ratings, and the user's count."""
    noise = np.random.default_rng(seed).random(len(ratings))
    frame = pd.DataFrame({"user": ratings["user"].to_numpy(), "noise": noise})
    rank = frame.groupby("user")["noise"].rank(method="first").to_numpy() - 1
    count = frame.groupby("user")["user"].transform("size").to_numpy()
    return rank, count


def _stratified_parts(
    ratings: pd.DataFrame, fraction: float, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    _check_not_empty(ratings)
    _check_fraction(fraction, "The held-out fraction")
    ratings = _canonical(ratings)
    rank, count = _per_user_rank(ratings, seed)
    n_out = np.minimum(np.floor(fraction * count + 0.5).astype(int), count - 1)
    held_out = rank < n_out
    return ratings[~held_out].reset_index(drop=True), ratings[held_out].reset_index(drop=True)


def stratified_split(
    ratings: pd.DataFrame,
    test_size: float = 0.2,
    seed: int = PROTOCOL_SEED,
    validation_size: float = 0.0,
    *,
    dataset: MovieLens | None = None,
    rating_scale: tuple[float, float] | None = None,
    on_duplicates: DuplicatePolicy = "error",
) -> Split:
    """Hold out ``test_size`` of *each user's* ratings, so every user appears in every part.

    A user with a single rating keeps it in training.
    """
    ratings, meta = _checked(ratings, dataset, rating_scale, on_duplicates)
    train, test = _stratified_parts(ratings, test_size, seed)
    validation = None
    if validation_size:
        train, validation = _stratified_parts(train, validation_size, seed + 1)
    return Split(train, test, validation, name="stratified", **meta)


def leave_last_out_split(
    ratings: pd.DataFrame,
    validation: bool = False,
    *,
    dataset: MovieLens | None = None,
    rating_scale: tuple[float, float] | None = None,
    on_duplicates: DuplicatePolicy = "error",
) -> Split:
    """Each user's latest rating becomes the test part (by timestamp; ratings of the same
    second in the fixed order of :func:`in_time_order`, never by id).

    With ``validation=True`` the second-latest goes to a validation part. Users with too few
    ratings to give one away keep all of them in training.
    """
    ratings, meta = _checked(ratings, dataset, rating_scale, on_duplicates)
    check_time_order(ratings, "leave_last_out_split holds out each user's latest rating",
                     "random_split / stratified_split instead")
    ordered = in_time_order(ratings)
    position_from_end = ordered.groupby("user").cumcount(ascending=False).to_numpy()
    count = ordered.groupby("user")["user"].transform("size").to_numpy()
    is_test = (position_from_end == 0) & (count >= 2)
    is_val = (position_from_end == 1) & (count >= 3) if validation else np.zeros_like(is_test)
    train = _canonical(ordered[~is_test & ~is_val])
    test = _canonical(ordered[is_test])
    val = _canonical(ordered[is_val]) if validation else None
    return Split(train, test, val, name="leave-last-out", **meta)


def global_time_split(
    ratings: pd.DataFrame,
    test_fraction: float = 0.1,
    seed: int = PROTOCOL_SEED,
    *,
    dataset: MovieLens | None = None,
    rating_scale: tuple[float, float] | None = None,
    on_duplicates: DuplicatePolicy = "error",
) -> Split:
    """One cut in time for everyone: training holds every rating before the cut, and each user
    who rated both before and after it is tested on their first rating after it (ratings of
    the same second in the order :func:`in_time_order` draws from ``seed``, never by id). The cut
    leaves the latest ``test_fraction`` of the ratings after it. No training rating is later
    than any test rating, so no model learns from the future of the moment it is tested on
    (Ji et al., 2023); users with no rating before the cut have nothing to be tested from.
    """
    ratings, meta = _checked(ratings, dataset, rating_scale, on_duplicates)
    _check_fraction(test_fraction, "test_fraction")
    check_time_order(ratings, "global_time_split cuts the ratings at one moment",
                     "random_split / stratified_split instead")
    cut = np.quantile(ratings["timestamp"].to_numpy(), 1.0 - test_fraction, method="higher")
    before = ratings[ratings["timestamp"] < cut]
    after = ratings[(ratings["timestamp"] >= cut) & ratings["user"].isin(before["user"])]
    if before.empty or after.empty:
        raise EmptySplitError(
            f"a cut at the latest {test_fraction:.0%} of the ratings leaves "
            f"{'no rating before it' if before.empty else 'no known user after it'}; "
            "choose another test_fraction")
    first_after = in_time_order(after, seed)
    test = first_after.groupby("user", sort=False).head(1)
    return Split(_canonical(before), _canonical(test), None, name="global time", **meta)


def user_holdout_split(
    ratings: pd.DataFrame,
    test_users: float = 0.1,
    validation_users: float = 0.2,
    seed: int = PROTOCOL_SEED,
    *,
    dataset: MovieLens | None = None,
    rating_scale: tuple[float, float] | None = None,
    on_duplicates: DuplicatePolicy = "error",
) -> Split:
    """Split the *users*: a ``test_users`` fraction of them (all their ratings) for testing,
    then ``validation_users`` of the rest for validation; the others train.

    The parts share no user. Combine with :func:`hide_ratings` to ask a model to complete the
    profiles of users it never saw in training.
    """
    ratings, meta = _checked(ratings, dataset, rating_scale, on_duplicates)
    _check_fraction(test_users, "test_users")
    _check_fraction(validation_users, "validation_users")
    ratings = _canonical(ratings)
    users = np.unique(ratings["user"].to_numpy())
    rng = np.random.default_rng(seed)
    shuffled = rng.permutation(users)
    n_test = int(round(test_users * users.size))
    n_val = int(round(validation_users * (users.size - n_test)))
    test_ids, val_ids = shuffled[:n_test], shuffled[n_test:n_test + n_val]
    in_test = ratings["user"].isin(test_ids)
    in_val = ratings["user"].isin(val_ids)
    return Split(
        ratings[~in_test & ~in_val].reset_index(drop=True),
        ratings[in_test].reset_index(drop=True),
        ratings[in_val].reset_index(drop=True),
        name="user-holdout",
        **meta,
    )


def hide_ratings(
    ratings: pd.DataFrame, fraction: float = 0.2, seed: int = PROTOCOL_SEED, min_visible: int = 1
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Hide ``fraction`` of each user's ratings: returns ``(visible, hidden)``.

    A model sees ``visible`` and is asked to predict ``hidden``. Each user keeps at least
    ``min_visible`` ratings visible.
    """
    _check_not_empty(ratings)
    _check_fraction(fraction, "fraction")
    ratings = _canonical(ratings)
    rank, count = _per_user_rank(ratings, seed)
    n_hidden = np.minimum(np.floor(fraction * count + 0.5), count - min_visible)
    hidden = rank < n_hidden
    if not hidden.any():
        raise EmptySplitError(
            "No rating was hidden: the users have too few ratings for this fraction. "
            "Raise the fraction or lower min_visible."
        )
    return ratings[~hidden].reset_index(drop=True), ratings[hidden].reset_index(drop=True)


# --- The course's three protocols -------------------------------------------------------

def _protocol_data(dataset: MovieLens | None) -> MovieLens:
    data = dataset if dataset is not None else load_movielens(PROTOCOL_DATASET)
    if data.name != PROTOCOL_DATASET:
        raise ValueError(
            f"The course protocols are defined on {PROTOCOL_DATASET}, not {data.name}; "
            "use random_split / leave_last_out_split directly for other data."
        )
    return data


def rating_protocol(dataset: MovieLens | None = None, validation_size: float = 0.0) -> Split:
    """RATING: ml-100k, all ratings, random 80/20 split with seed 42; report RMSE and MAE.

    ``validation_size`` > 0 carves a validation part out of the 80% (test part unchanged).
    """
    data = _protocol_data(dataset)
    split = random_split(data.ratings, 0.2, PROTOCOL_SEED, dataset=data, name="RATING")
    return split.carve_validation(validation_size) if validation_size else split


def topn_protocol(dataset: MovieLens | None = None, validation: bool = False) -> Split:
    """TOPN: ml-100k, each user's latest rating held out; rank every item the user has not
    rated in training; report HR@10, NDCG@10, coverage, diversity and novelty."""
    data = _protocol_data(dataset)
    split = leave_last_out_split(data.ratings, validation=validation, dataset=data)
    split.name = "TOPN"
    return split


def retrieval_protocol(dataset: MovieLens | None = None) -> Split:
    """RETRIEVAL: ml-100k interactions, random 80/20 split with seed 42 (as the TensorFlow
    Recommenders tutorials); report top-K categorical accuracy for K in 1, 5, 10, 50, 100."""
    data = _protocol_data(dataset)
    return random_split(data.ratings, 0.2, PROTOCOL_SEED, dataset=data, name="RETRIEVAL")
