"""Exceptions raised by coursekit, each with a message that says what to do next."""

from __future__ import annotations


class CourseKitError(Exception):
    """Base class of every coursekit error."""


class UnknownDatasetError(CourseKitError, ValueError):
    """The dataset name is not one coursekit knows."""


class DatasetHashError(CourseKitError, OSError):
    """A downloaded or cached file does not have the SHA-256 it should have."""


class DatasetUnavailableError(CourseKitError, OSError):
    """The dataset is neither cached nor downloadable from here."""


class InvalidRatingsError(CourseKitError, ValueError):
    """Ratings contain NaN, out-of-range values, or a malformed schema."""


class EmptySplitError(CourseKitError, ValueError):
    """A split produced (or was given) a part with no ratings."""


class UnknownIdError(CourseKitError, KeyError):
    """A raw user or item id was not seen when the encoder was fitted."""

    def __str__(self) -> str:  # KeyError quotes its message; show it plainly.
        return str(self.args[0]) if self.args else ""


class NotFittedError(CourseKitError, RuntimeError):
    """A model (or encoder) was used before ``fit``."""


class RatingsNotPredictedError(CourseKitError, TypeError):
    """The model ranks items but does not predict ratings (a retrieval model)."""


class ModelVersionError(CourseKitError, ValueError):
    """A saved model was written by another version of coursekit."""
