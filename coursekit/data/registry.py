"""The MovieLens variants coursekit knows: where each archive lives and its SHA-256."""

from __future__ import annotations

from dataclasses import dataclass

GROUPLENS_BASE_URL = "https://files.grouplens.org/datasets/movielens/"


@dataclass(frozen=True)
class ArchiveSpec:
    """One downloadable MovieLens archive."""

    name: str
    url: str
    sha256: str
    layout: str  # "100k", "1m" or "csv": which file format the archive uses
    rating_scale: tuple[float, float]
    description: str
    regenerated: bool = False  # "latest" archives can be rebuilt by GroupLens

    @property
    def filename(self) -> str:
        return self.url.rsplit("/", 1)[-1]


DATASETS: dict[str, ArchiveSpec] = {
    spec.name: spec
    for spec in [
        ArchiveSpec(
            "ml-100k",
            GROUPLENS_BASE_URL + "ml-100k.zip",
            "50d2a982c66986937beb9ffb3aa76efe955bf3d5c6b761f4e3a7cd717c6a3229",
            "100k",
            (1.0, 5.0),
            "100,000 ratings (1-5 stars) by 943 users on 1,682 movies, 1997-98",
        ),
        ArchiveSpec(
            "ml-latest-small",
            GROUPLENS_BASE_URL + "ml-latest-small.zip",
            "696d65a3dfceac7c45750ad32df2c259311949efec81f0f144fdfb91ebc9e436",
            "csv",
            (0.5, 5.0),
            "about 100,000 half-star ratings by 610 users on 9,742 movies",
            regenerated=True,
        ),
        ArchiveSpec(
            "ml-1m",
            GROUPLENS_BASE_URL + "ml-1m.zip",
            "a6898adb50b9ca05aa231689da44c217cb524e7ebd39d264c56e2832f2c54e20",
            "1m",
            (1.0, 5.0),
            "1,000,209 ratings by 6,040 users on 3,706 movies",
        ),
        ArchiveSpec(
            "ml-20m",
            GROUPLENS_BASE_URL + "ml-20m.zip",
            "96f243c338a8665f6bcc89c53edf6ee39162a846940de6b7c8c48aeada765ff3",
            "csv",
            (0.5, 5.0),
            "20,000,263 half-star ratings by 138,493 users on 26,744 movies",
        ),
        ArchiveSpec(
            "ml-25m",
            GROUPLENS_BASE_URL + "ml-25m.zip",
            "8b21cfb7eb1706b4ec0aac894368d90acf26ebdfb6aced3ebd4ad5bd1eb9c6aa",
            "csv",
            (0.5, 5.0),
            "25,000,095 half-star ratings by 162,541 users on 59,047 movies",
        ),
    ]
}

# The offline source of ml-100k: the RecBole wheel on the Python package index carries the
# ML-100K files. Only the wheel is downloaded (pip download --no-deps); RecBole is never installed.
RECBOLE_REQUIREMENT = "recbole==1.2.1"
RECBOLE_WHEEL = "recbole-1.2.1-py3-none-any.whl"
RECBOLE_WHEEL_SHA256 = "9c9948202011f37eb0a7c6768129313f00d6403ad221ec940d5e2d5d5f33a407"
RECBOLE_ML100K_DIR = "recbole/dataset_example/ml-100k/"


def dataset_names() -> list[str]:
    """The names `load_movielens` accepts."""
    return list(DATASETS)
