"""Side features of MovieLens users and films, coded for a model's embedding tables.

Every coded table has one row per id asked for, and code 0 means "unknown" (an id missing from
the dataset's tables, or a missing value), so a row of zeros is what a model knows of nothing.
The vocabularies come from the whole dataset's tables, so codes stay the same for ids a model
never saw in training.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from coursekit.data.movielens import MovieLens

AGE_GROUPS = (18, 25, 35, 45, 50, 56)  # MovieLens-1M's age groups, as lower bounds
FIRST_YEAR, YEARS_PER_CODE, YEAR_CODES = 1920, 5, 20  # 1920-24 ... 2015-19; earlier: first


class TowerFeatures:
    """Coded features of a MovieLens dataset: for users age group, gender and occupation; for
    films genres (several per film, a multi-hot row) and five-year period of release.

    ``users(ids)`` and ``items(ids)`` return ``{name: table}``, one row per id; ``sizes``
    gives the number of codes of each single-code feature (0 included), for an Embedding."""

    def __init__(self, dataset: MovieLens) -> None:
        if dataset.users is None or dataset.items is None:
            raise ValueError(f"{dataset.name} has no users' or films' table: no features.")
        needed = {"users": ("user", "age", "gender", "occupation"),
                  "items": ("item", "genres", "year")}
        for part, columns in needed.items():
            missing = set(columns) - set(getattr(dataset, part).columns)
            if missing:
                raise ValueError(f"The {part} table of {dataset.name} lacks {sorted(missing)}.")
        self.user_table = dataset.users.drop_duplicates("user").set_index("user")
        self.item_table = dataset.items.drop_duplicates("item").set_index("item")
        self.genres = sorted({g for gs in self.item_table["genres"] for g in gs})
        self.occupations = sorted(self.user_table["occupation"].dropna().unique())
        self.sizes = {"age": len(AGE_GROUPS) + 2, "gender": 3,
                      "occupation": len(self.occupations) + 1, "year": YEAR_CODES + 1}

    def users(self, ids) -> dict[str, np.ndarray]:
        """Age group, gender and occupation codes of user ids (0: unknown)."""
        return self.code_users(self.user_table.reindex(pd.Index(np.asarray(ids))))

    def code_users(self, rows: pd.DataFrame) -> dict[str, np.ndarray]:
        """The codes of users described by a table with age, gender and occupation columns
        (a missing value or an occupation the dataset does not know: 0)."""
        known = rows["age"].notna().to_numpy()
        age = np.where(known, np.digitize(rows["age"].fillna(0), AGE_GROUPS) + 1, 0)
        gender = rows["gender"].map({"M": 1, "F": 2}).fillna(0)
        occupation = rows["occupation"].map(
            {name: code + 1 for code, name in enumerate(self.occupations)}).fillna(0)
        return {"age": age.astype(np.int32), "gender": gender.to_numpy(np.int32),
                "occupation": occupation.to_numpy(np.int32)}

    def items(self, ids) -> dict[str, np.ndarray]:
        """Genres (a multi-hot row) and release-period codes of film ids (0: unknown)."""
        rows = self.item_table.reindex(pd.Index(np.asarray(ids)))
        genres = np.zeros((len(rows), len(self.genres)), dtype=np.float32)
        column = {name: k for k, name in enumerate(self.genres)}
        for row, labels in enumerate(rows["genres"]):
            if isinstance(labels, list):
                genres[row, [column[g] for g in labels]] = 1.0
        year = rows["year"].to_numpy(dtype=np.float64)
        period = np.clip((year - FIRST_YEAR) // YEARS_PER_CODE, 0, YEAR_CODES - 1) + 1
        return {"genres": genres, "year": np.where(np.isnan(year), 0, period).astype(np.int32)}

    def missing_users(self, ids) -> np.ndarray:
        """The ids that the users' table does not hold."""
        ids = np.asarray(ids)
        return ids[~pd.Index(ids).isin(self.user_table.index)]

    def missing_items(self, ids) -> np.ndarray:
        """The ids that the films' table does not hold."""
        ids = np.asarray(ids)
        return ids[~pd.Index(ids).isin(self.item_table.index)]
