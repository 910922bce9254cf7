"""Mapping raw MovieLens ids to contiguous indices 0..n-1 (and back)."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from coursekit.errors import UnknownIdError

UNKNOWN_INDEX = -1


class IdEncoder:
    """Encode raw ids as indices ``0..n-1`` in sorted id order; fitted on training data only.

    ``encode(ids, unknown="error")`` raises :class:`UnknownIdError` for an id not seen in
    ``fit``; ``unknown="mask"`` returns ``-1`` for such ids instead, so a model can treat them
    as cold-start cases. ``decode`` inverts ``encode`` for every valid index.
    """

    def __init__(self, kind: str = "id") -> None:
        self.kind = kind
        self.ids_: np.ndarray | None = None

    def fit(self, ids: "pd.Series | np.ndarray | list[int]") -> "IdEncoder":
        values = np.unique(np.asarray(ids))
        if values.size == 0:
            raise ValueError(f"Cannot fit the {self.kind} encoder on an empty list of ids.")
        self.ids_ = values
        return self

    def _fitted(self) -> np.ndarray:
        if self.ids_ is None:
            raise RuntimeError(f"The {self.kind} encoder is not fitted yet; call fit(ids) first.")
        return self.ids_

    def __len__(self) -> int:
        return int(self._fitted().size)

    def __contains__(self, raw_id: object) -> bool:
        ids = self._fitted()
        pos = np.searchsorted(ids, raw_id)
        return bool(pos < ids.size and ids[pos] == raw_id)

    def encode(
        self,
        ids: "pd.Series | np.ndarray | list[int]",
        unknown: Literal["error", "mask"] = "error",
    ) -> np.ndarray:
        """Indices of raw ``ids`` (int64)."""
        known = self._fitted()
        values = np.asarray(ids)
        positions = np.searchsorted(known, values)
        clipped = np.minimum(positions, known.size - 1)
        found = known[clipped] == values
        if not found.all():
            if unknown == "error":
                missing = np.unique(values[~found])
                raise UnknownIdError(
                    f"{missing.size} {self.kind} id(s) were not in the training data, e.g. "
                    f"{missing[:5].tolist()}. Use encode(..., unknown='mask') to get -1 for them "
                    "and handle them as cold-start cases."
                )
            if unknown != "mask":
                raise ValueError(f"unknown must be 'error' or 'mask', not {unknown!r}")
        return np.where(found, clipped, UNKNOWN_INDEX).astype(np.int64)

    def decode(self, indices: "np.ndarray | list[int]") -> np.ndarray:
        """Raw ids of ``indices``; raises IndexError for an index outside ``0..n-1``."""
        known = self._fitted()
        idx = np.asarray(indices, dtype=np.int64)
        if idx.size and (idx.min() < 0 or idx.max() >= known.size):
            raise IndexError(
                f"{self.kind} index out of range 0..{known.size - 1}: "
                f"{idx[(idx < 0) | (idx >= known.size)][:5].tolist()}"
            )
        return known[idx]

    def __repr__(self) -> str:
        size = "unfitted" if self.ids_ is None else f"{self.ids_.size:,} ids"
        return f"IdEncoder({self.kind!r}, {size})"
