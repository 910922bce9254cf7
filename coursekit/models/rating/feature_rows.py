"""The sparse feature rows of (user, film) pairs that the factorization machines read: one
column block per feature (ids, demographics, genres, period of release, the films a user
rated and the users who rated a film, 1/sqrt(n) each), built once per side."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from coursekit.data.features import TowerFeatures
from coursekit.data.movielens import MovieLens

BLOCKS = ("user", "age", "gender", "occupation", "item", "genres", "year", "rated",
          "rated_by")
USER_SIDE = ("user", "age", "gender", "occupation", "rated")



class FeatureBlocks:
    """The sparse rows of (user, film) pairs, one column block per feature of ``blocks``.

    Built from the training ratings (the implicit-feedback blocks: ``rated``, each user's
    rated films, and ``rated_by``, each film's raters, 1/sqrt(n) each) and the dataset's users'
    and films' tables (demographics, genres, release period, through :class:`TowerFeatures`);
    ids follow the model's encoders. ``columns`` gives each block's (start, stop), ``sides``
    every user's part of the rows and every film's (a pair's row is the sum of the two). A
    user or film unseen in training (index -1) gets a part from its features alone
    (:meth:`side_rows`): no id and no implicit feedback, since training knows neither."""

    def __init__(self, dataset: MovieLens | None, user_ids: np.ndarray, item_ids: np.ndarray,
                 users: np.ndarray, items: np.ndarray, blocks: Sequence[str] = BLOCKS) -> None:
        unknown = set(blocks) - set(BLOCKS)
        if unknown:
            raise ValueError(f"unknown feature blocks {sorted(unknown)}; choose from {BLOCKS}")
        side = set(blocks) - {"user", "item", "rated", "rated_by"}
        if side and (dataset is None or dataset.users is None or dataset.items is None):
            raise ValueError(
                f"the blocks {sorted(side)} read the users' and films' tables of the split's "
                "dataset; fit on a Split made from a MovieLens dataset, or keep to "
                "blocks=('user', 'item', 'rated', 'rated_by').")
        self.blocks = tuple(blocks)
        self.features = TowerFeatures(dataset) if side else None
        n_users, n_items = len(user_ids), len(item_ids)
        shape = (n_users, n_items)
        self.implicit = {block: _normalised_rows(users, items, shape, block)
                         for block in ("rated", "rated_by") if block in self.blocks}
        widths = {"user": n_users, "item": n_items, "rated": n_items, "rated_by": n_users}
        if self.features is not None:
            widths |= {"genres": len(self.features.genres), **self.features.sizes}
        self.columns: dict[str, tuple[int, int]] = {}
        start = 0
        for block in self.blocks:
            self.columns[block] = (start, start + widths[block])
            start += widths[block]
        self.n_features = start
        # every user's part of the rows, and every film's: a pair's row is their sum
        self.sides = (self.side_rows("user", user_ids, np.arange(n_users)),
                      self.side_rows("item", item_ids, np.arange(n_items)))

    def side_rows(self, side: str, ids: np.ndarray, index: np.ndarray,
                  codes: dict[str, np.ndarray] | None = None) -> sp.csr_matrix:
        """One side's part of the rows (``side`` "user" or "item"; zeros in the other side's
        columns) for raw ``ids`` whose encoded ``index`` is -1 when unseen in training;
        ``codes`` replaces the features the dataset's tables give these ids."""
        own = USER_SIDE if side == "user" else tuple(b for b in BLOCKS if b not in USER_SIDE)
        index = np.asarray(index)
        seen = index >= 0
        if codes is None:
            codes = {}
            if self.features is not None:
                codes = (self.features.users(ids) if side == "user"
                         else self.features.items(ids))
        pieces = []
        for block in self.blocks:
            start, stop = self.columns[block]
            if block not in own:
                piece = sp.csr_matrix((index.size, stop - start), dtype=np.float32)
            elif block in ("user", "item"):
                piece = _one_hot(np.where(seen, index, -1), stop - start)
            elif block in self.implicit:
                piece = self.implicit[block][np.maximum(index, 0)]
                piece = sp.diags(seen.astype(np.float32)).dot(piece)  # unseen: nothing known
            elif block == "genres":
                piece = sp.csr_matrix(codes["genres"])
            else:
                piece = _one_hot(codes[block], stop - start)
            pieces.append(piece)
        return sp.hstack(pieces, format="csr", dtype=np.float32)

    def rows(self, users: np.ndarray, items: np.ndarray) -> sp.csr_matrix:
        """The rows of encoded (user, film) pairs."""
        return (self.sides[0][users] + self.sides[1][items]).tocsr()

    def side_matrix(self, side: str, rows: sp.csr_matrix | None = None
                    ) -> tuple[sp.csr_matrix, list[int]]:
        """One side's own columns (``side`` "user" or "item") of its rows (every encoded user
        or film by default), and the width of each of its blocks."""
        own = [b for b in self.blocks if (b in USER_SIDE) == (side == "user")]
        rows = self.sides[0 if side == "user" else 1] if rows is None else rows
        pieces = [rows[:, slice(*self.columns[b])] for b in own]
        return (sp.hstack(pieces, format="csr", dtype=np.float32),
                [self.columns[b][1] - self.columns[b][0] for b in own])



def _one_hot(codes: np.ndarray, width: int) -> sp.csr_matrix:
    """Rows with a 1 in column ``code`` (none where the code is -1)."""
    codes = np.asarray(codes)
    rows = np.flatnonzero(codes >= 0)
    return sp.csr_matrix((np.ones(rows.size, dtype=np.float32), (rows, codes[rows])),
                         shape=(codes.size, width))


def _normalised_rows(users: np.ndarray, items: np.ndarray, shape: tuple[int, int],
                     block: str) -> sp.csr_matrix:
    """The implicit-feedback rows: for "rated", each user's rated films, for "rated_by",
    each film's raters, every entry 1/sqrt(n) of its row's n (as in SVD++)."""
    rated = sp.csr_matrix((np.ones(users.size, dtype=np.float32), (users, items)), shape=shape)
    rated.data[:] = 1.0  # a film rated twice counts once
    if block == "rated_by":
        rated = rated.T.tocsr()
    counts = np.maximum(np.diff(rated.indptr), 1)
    return sp.diags((1.0 / np.sqrt(counts)).astype(np.float32)).dot(rated).tocsr()
