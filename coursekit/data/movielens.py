"""Loading every MovieLens variant into one schema.

ratings: ``user``, ``item`` (raw MovieLens ids, int64), ``rating`` (float32), ``timestamp``
(int64, seconds since 1970). items: ``item``, ``title`` (with the year, as "Toy Story (1995)"),
``genres`` (a list of strings), ``year`` (nullable int). users, where the variant has them:
``user``, ``age``, ``gender``, ``occupation``, ``zip_code``.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from coursekit.data.download import CACHE_ENV_VAR, cache_dir, fetch_archive, fetch_recbole_wheel
from coursekit.data.registry import DATASETS, RECBOLE_ML100K_DIR, RECBOLE_WHEEL, ArchiveSpec
from coursekit.data.validation import validate_ratings
from coursekit.errors import DatasetUnavailableError, UnknownDatasetError

Source = Literal["auto", "grouplens", "recbole"]

ML100K_GENRES = [
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
    "Romance", "Sci-Fi", "Thriller", "War", "Western",
]
ML1M_OCCUPATIONS = [
    "other", "academic/educator", "artist", "clerical/admin", "college/grad student",
    "customer service", "doctor/health care", "executive/managerial", "farmer", "homemaker",
    "K-12 student", "lawyer", "programmer", "retired", "sales/marketing", "scientist",
    "self-employed", "technician/engineer", "tradesman/craftsman", "unemployed", "writer",
]
_YEAR = re.compile(r"\((\d{4})\)\s*$")


@dataclass
class MovieLens:
    """A MovieLens variant in the course's schema."""

    name: str
    ratings: pd.DataFrame
    items: pd.DataFrame
    users: pd.DataFrame | None
    rating_scale: tuple[float, float]
    source: str = "grouplens"
    _titles: dict[int, str] | None = field(default=None, repr=False)

    @property
    def n_users(self) -> int:
        return int(self.ratings["user"].nunique())

    @property
    def n_items(self) -> int:
        return int(self.ratings["item"].nunique())

    @property
    def n_ratings(self) -> int:
        return len(self.ratings)

    @property
    def density(self) -> float:
        """Fraction of the user x item matrix that holds a rating."""
        return self.n_ratings / (self.n_users * self.n_items)

    def titles(self, items: "pd.Series | np.ndarray | list[int]") -> list[str]:
        """Titles of raw item ids (``"?"`` for an id the catalogue lacks)."""
        if self._titles is None:
            self._titles = dict(
                zip(self.items["item"].tolist(), self.items["title"].tolist(), strict=True)
            )
        return [self._titles.get(int(i), "?") for i in items]

    def summary(self) -> pd.Series:
        """Counts and sparsity as a small table."""
        return pd.Series(
            {
                "ratings": self.n_ratings,
                "users": self.n_users,
                "items": self.n_items,
                "density": round(self.density, 4),
                "sparsity": round(1.0 - self.density, 4),
                "rating scale": f"{self.rating_scale[0]:g} to {self.rating_scale[1]:g}",
                "source": self.source,
            },
            name=self.name,
        )

    def __repr__(self) -> str:
        return (
            f"MovieLens({self.name!r}: {self.n_ratings:,} ratings by {self.n_users:,} users "
            f"on {self.n_items:,} items, source={self.source!r})"
        )


def load_movielens(
    name: str = "ml-100k", source: Source = "auto", progressbar: bool = True
) -> MovieLens:
    """Load a MovieLens variant by name, downloading and caching it on first use.

    ``name`` is one of ``ml-100k``, ``ml-latest-small``, ``ml-1m``, ``ml-20m``, ``ml-25m``.
    ``source`` matters for ml-100k only: ``"grouplens"`` reads the GroupLens archive,
    ``"recbole"`` reads the copy of the same files inside the RecBole wheel on the Python
    package index (used when the MovieLens host cannot be reached), and ``"auto"`` uses
    whichever is cached, else tries GroupLens and then RecBole.
    The cache folder is ``$COURSEKIT_DATA_DIR`` when set.
    """
    if name not in DATASETS:
        raise UnknownDatasetError(
            f"Unknown dataset {name!r}. Valid names: {', '.join(DATASETS)}."
        )
    if source not in ("auto", "grouplens", "recbole"):
        raise ValueError(f"source must be 'auto', 'grouplens' or 'recbole', not {source!r}")
    spec = DATASETS[name]
    if name != "ml-100k":
        if source == "recbole":
            raise ValueError("The RecBole source carries ml-100k only.")
        return _read_archive(spec, fetch_archive(spec, progressbar=progressbar))
    return _load_ml100k(spec, source, progressbar)


def _load_ml100k(spec: ArchiveSpec, source: Source, progressbar: bool) -> MovieLens:
    sources = {
        "grouplens": lambda: _read_archive(spec, fetch_archive(spec, progressbar=progressbar)),
        "recbole": lambda: read_recbole_ml100k(fetch_recbole_wheel()),
    }
    if source != "auto":
        return sources[source]()
    folder = cache_dir()
    order = ["grouplens", "recbole"]
    if not (folder / spec.filename).exists() and (folder / RECBOLE_WHEEL).exists():
        order.reverse()  # use the cached wheel rather than try the network first
    errors = {}
    for name in order:  # each source once; both check the cache before downloading
        try:
            return sources[name]()
        except DatasetUnavailableError as error:
            errors[name] = str(error)
    raise DatasetUnavailableError(
        "ml-100k is not in the cache and neither source could be reached.\n"
        f"  GroupLens: {errors['grouplens']}\n  Package index: {errors['recbole']}\n"
        "To get the data: connect to the internet and call load_movielens('ml-100k') again; "
        f"or copy ml-100k.zip (or {RECBOLE_WHEEL}) from a machine that has it into "
        f"{folder} (or into the folder named by the environment variable {CACHE_ENV_VAR})."
    )


def _read_archive(spec: ArchiveSpec, path: Path) -> MovieLens:
    readers = {"100k": read_grouplens_ml100k, "1m": _read_ml1m, "csv": _read_csv_layout}
    return readers[spec.layout](path, spec)


def _member(archive: zipfile.ZipFile, suffix: str) -> str:
    for member in archive.namelist():
        if member.endswith(suffix):
            return member
    raise DatasetUnavailableError(
        f"{Path(archive.filename or '?').name} has no file ending in {suffix!r}; "
        "the archive is not the MovieLens release coursekit expects."
    )


def _checked(ratings: pd.DataFrame, spec: ArchiveSpec) -> pd.DataFrame:
    """An archive's ratings in the course's schema; a re-rated pair keeps its latest rating."""
    return validate_ratings(ratings, spec.rating_scale, on_duplicates="latest")


def _split_genres(text: str, sep: str) -> list[str]:
    if not isinstance(text, str) or text in ("", "(no genres listed)"):
        return []
    return text.split(sep)


def _year_of(titles: pd.Series) -> pd.Series:
    return titles.str.extract(_YEAR, expand=False).astype("Int64")


def _finish_items(items: pd.DataFrame) -> pd.DataFrame:
    items = items.astype({"item": "int64"})
    items["title"] = items["title"].astype(str).str.strip()
    items["year"] = _year_of(items["title"])
    return items[["item", "title", "genres", "year"]].sort_values("item").reset_index(drop=True)


def read_grouplens_ml100k(path: Path, spec: ArchiveSpec | None = None) -> MovieLens:
    """Read the GroupLens ml-100k.zip (u.data, u.item, u.user)."""
    spec = spec or DATASETS["ml-100k"]
    with zipfile.ZipFile(path) as archive:
        ratings = pd.read_csv(
            archive.open(_member(archive, "/u.data")), sep="\t", header=None,
            names=["user", "item", "rating", "timestamp"],
        )
        raw_items = pd.read_csv(
            archive.open(_member(archive, "/u.item")), sep="|", header=None,
            encoding="latin-1",
        )
        users = pd.read_csv(
            archive.open(_member(archive, "/u.user")), sep="|", header=None,
            names=["user", "age", "gender", "occupation", "zip_code"], dtype={"zip_code": str},
        )
    flags = raw_items.iloc[:, 5:24].to_numpy(dtype=bool)
    items = pd.DataFrame(
        {
            "item": raw_items[0],
            "title": raw_items[1],
            "genres": [[g for g, on in zip(ML100K_GENRES, row, strict=True) if on]
                       for row in flags],
        }
    )
    return MovieLens(
        "ml-100k", _checked(ratings, spec), _finish_items(items),
        users, spec.rating_scale, source="grouplens",
    )


def read_recbole_ml100k(wheel: Path) -> MovieLens:
    """Read ML-100K out of the RecBole wheel (atomic files .inter, .item, .user)."""
    spec = DATASETS["ml-100k"]
    with zipfile.ZipFile(wheel) as archive:
        def table(kind: str) -> pd.DataFrame:
            frame = pd.read_csv(
                archive.open(RECBOLE_ML100K_DIR + f"ml-100k.{kind}"), sep="\t", dtype=str,
                keep_default_na=False,
            )
            frame.columns = [c.split(":")[0] for c in frame.columns]
            return frame

        inter, raw_items, users = table("inter"), table("item"), table("user")
    ratings = pd.DataFrame(
        {
            "user": inter["user_id"].astype("int64"),
            "item": inter["item_id"].astype("int64"),
            "rating": inter["rating"].astype("float64"),
            "timestamp": inter["timestamp"].astype("float64").astype("int64"),
        }
    )
    years = raw_items["release_year"]
    known_year = years.str.fullmatch(r"\d{4}")
    titles = raw_items["movie_title"].where(raw_items["movie_title"] != "unkonwn", "unknown")
    titles = titles.where(~known_year, titles + " (" + years + ")")
    items = pd.DataFrame(
        {
            "item": raw_items["item_id"].astype("int64"),
            "title": titles,
            "genres": [_split_genres(g, " ") for g in raw_items["class"]],
        }
    )
    users = pd.DataFrame(
        {
            "user": users["user_id"].astype("int64"),
            "age": users["age"].astype("int64"),
            "gender": users["gender"],
            "occupation": users["occupation"],
            "zip_code": users["zip_code"],
        }
    )
    return MovieLens(
        "ml-100k", _checked(ratings, spec), _finish_items(items),
        users, spec.rating_scale, source="recbole",
    )


def _read_double_colon(archive: zipfile.ZipFile, member: str, names: list[str]) -> pd.DataFrame:
    text = archive.read(member).decode("latin-1").replace("::", "\t")
    return pd.read_csv(io.StringIO(text), sep="\t", header=None, names=names, dtype=str,
                       keep_default_na=False)


def _read_ml1m(path: Path, spec: ArchiveSpec) -> MovieLens:
    with zipfile.ZipFile(path) as archive:
        ratings = _read_double_colon(
            archive, _member(archive, "/ratings.dat"), ["user", "item", "rating", "timestamp"]
        )
        movies = _read_double_colon(archive, _member(archive, "/movies.dat"),
                                    ["item", "title", "genres"])
        users = _read_double_colon(
            archive, _member(archive, "/users.dat"),
            ["user", "gender", "age", "occupation", "zip_code"],
        )
    ratings = ratings.astype({"user": "int64", "item": "int64", "rating": "float64",
                              "timestamp": "int64"})
    items = movies.assign(genres=[_split_genres(g, "|") for g in movies["genres"]])
    occupation = users["occupation"].astype(int).map(dict(enumerate(ML1M_OCCUPATIONS)))
    users = pd.DataFrame(
        {
            "user": users["user"].astype("int64"),
            "age": users["age"].astype("int64"),
            "gender": users["gender"],
            "occupation": occupation,
            "zip_code": users["zip_code"],
        }
    )
    return MovieLens(spec.name, _checked(ratings, spec),
                     _finish_items(items), users, spec.rating_scale)


def _read_csv_layout(path: Path, spec: ArchiveSpec) -> MovieLens:
    with zipfile.ZipFile(path) as archive:
        ratings = pd.read_csv(
            archive.open(_member(archive, "/ratings.csv")),
            dtype={"userId": "int64", "movieId": "int64", "rating": "float32",
                   "timestamp": "int64"},
        )
        movies = pd.read_csv(archive.open(_member(archive, "/movies.csv")), dtype=str,
                             keep_default_na=False)
    ratings = ratings.rename(columns={"userId": "user", "movieId": "item"})
    items = pd.DataFrame(
        {
            "item": movies["movieId"].astype("int64"),
            "title": movies["title"],
            "genres": [_split_genres(g, "|") for g in movies["genres"]],
        }
    )
    return MovieLens(spec.name, _checked(ratings, spec),
                     _finish_items(items), None, spec.rating_scale)
