"""What the graded assignments start from: the course's splits as index arrays a Keras model
reads, and the small-data setting that the course's tests and the autograder share.

Nothing here answers a task. An assignment run as a student runs it uses the whole of ml-100k;
with ``COURSEKIT_ASSIGNMENT_SMALL=1`` in the environment, it keeps the first
:data:`SMALL_USERS` users and trains for fewer epochs, so that the autograder's planted
submissions run in seconds. The hidden tests that decide the points are the same in both.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass

import numpy as np
import pandas as pd

from coursekit.data import load_movielens, rating_protocol, retrieval_protocol, topn_protocol
from coursekit.data.splits import Split

SMALL_ENV = "COURSEKIT_ASSIGNMENT_SMALL"
SMALL_USERS = 120


def small() -> bool:
    """True when the small-data setting is on (``COURSEKIT_ASSIGNMENT_SMALL=1``)."""
    return os.environ.get(SMALL_ENV, "") == "1"


def epochs(full: int, small_run: int = 1) -> int:
    """``full`` epochs, or ``small_run`` in the small-data setting."""
    return small_run if small() else full


def seed_everything(seed: int = 0) -> None:
    """Seed Python, NumPy and Keras, so that a run gives the same figures twice."""
    import keras

    random.seed(seed)
    np.random.seed(seed)
    keras.utils.set_random_seed(seed)


@dataclass
class Indexed:
    """A split whose users and items are numbered 0..n-1 from its training part, as an
    embedding table reads them. ``train``, ``validation`` and ``test`` keep the ratings
    table's columns and add ``u`` and ``i``, the indices; rows whose user or item the training
    part never saw are left out of the other parts (``dropped`` counts them)."""

    split: Split
    train: pd.DataFrame
    validation: pd.DataFrame | None
    test: pd.DataFrame
    n_users: int
    n_items: int
    dropped: int

    def pairs(self, part: str) -> np.ndarray:
        """The (user index, item index) pairs of a part, shape (rows, 2), int32."""
        frame = getattr(self, part)
        return frame[["u", "i"]].to_numpy(dtype="int32")

    def ratings(self, part: str) -> np.ndarray:
        """The ratings of a part, float32."""
        return getattr(self, part)["rating"].to_numpy(dtype="float32")


def _shrunk(split: Split) -> Split:
    users = np.sort(split.train["user"].unique())[:SMALL_USERS]
    parts = {name: None if frame is None else frame[frame["user"].isin(users)]
             for name, frame in split.parts().items()}
    return Split(train=parts["train"], test=parts["test"], validation=parts["validation"],
                 name=split.name + " (small)", rating_scale=split.rating_scale,
                 dataset=split.dataset, validated=True)


def indexed(split: Split) -> Indexed:
    """Number the users and items of ``split`` as its encoders do, from its training part (see
    :class:`Indexed`); in the small-data setting, keep its first :data:`SMALL_USERS` users
    first."""
    if small():
        split = _shrunk(split)
    dropped = 0
    parts: dict[str, pd.DataFrame | None] = {}
    for name, frame in split.parts().items():
        if frame is None:
            parts[name] = None
            continue
        users = split.users.encode(frame["user"], unknown="mask")
        items = split.items.encode(frame["item"], unknown="mask")
        known = (users >= 0) & (items >= 0)
        dropped += int((~known).sum())
        frame = frame[known].reset_index(drop=True).assign(u=users[known].astype("int32"),
                                                           i=items[known].astype("int32"))
        parts[name] = frame
    return Indexed(split, parts["train"], parts["validation"], parts["test"],
                   split.n_users, split.n_items, dropped)


def rating_data(validation_size: float = 0.1) -> Indexed:
    """The RATING protocol on ml-100k with a validation part carved from its training part."""
    return indexed(rating_protocol(load_movielens("ml-100k"), validation_size=validation_size))


def topn_data() -> Indexed:
    """The TOPN protocol on ml-100k with each user's second-latest film as validation."""
    return indexed(topn_protocol(load_movielens("ml-100k"), validation=True))


def retrieval_data(validation_size: float = 0.1) -> Indexed:
    """The RETRIEVAL protocol on ml-100k with a validation part carved from its training part."""
    split = retrieval_protocol(load_movielens("ml-100k"))
    return indexed(split.carve_validation(validation_size) if validation_size else split)


REPOSITORY_RAW = "https://raw.githubusercontent.com/dl-recsys-course/recsys-tensorflow/main"


def fetch_public_tests(assignment: str, questions: list[str], folder: str = "tests",
                       base_url: str = f"{REPOSITORY_RAW}/assignments") -> None:
    """Download an assignment's public tests into ``folder`` beside the notebook (what Colab
    needs: a notebook opened from GitHub comes without them), unless they are there already.
    ``base_url``: the folder that holds the assignments, e.g. an instructor's own copy."""
    import urllib.request
    from pathlib import Path

    target = Path(folder)
    target.mkdir(exist_ok=True)
    for question in questions:
        path = target / f"{question}.py"
        if path.exists():
            continue
        url = f"{base_url.rstrip('/')}/{assignment}/tests/{question}.py"
        try:
            with urllib.request.urlopen(url, timeout=30) as response:
                path.write_bytes(response.read())
        except OSError as error:
            raise RuntimeError(
                f"could not download the public tests of {assignment} ({url}): {error}. "
                "Check the runtime's internet connection and run this cell again.") from error
