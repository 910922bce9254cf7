"""Blending: a linear combination of several models' predicted ratings, its weights fitted on
ratings none of them trained on, as the Netflix Prize teams blended theirs (Töscher, Jahrer
and Bell 2009).

    blend = LinearBlend({"FM": FactorizationMachine(), "KNN": ...}).fit(split)
    blend.weights_                       # one weight per model, and the intercept
    blend.predict(users, items)

Each member predicts a held-out part of the training ratings (``validation_fraction`` of
them, or the split's own validation part) from a model that did not learn from it; a ridge
regression of the held-out ratings on these predictions gives the weights, and the members
are then fitted on all training ratings (:meth:`LinearBlend._held_out_predictions`). A member
that reads the time of a rating (the time-aware biases) predicts the held-out ratings, and
later any frame with a ``timestamp`` column, at each rating's time.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from coursekit.data.splits import Split
from coursekit.models.base import Recommender
from coursekit.models.training.refit import holdout_mask


# taught: ch-side-information
def blend_weights(predictions: np.ndarray, ratings: np.ndarray, ridge: float
                  ) -> tuple[np.ndarray, float]:
    """Least-squares weights of the columns of ``predictions`` (one per model) for
    ``ratings``, with an L2 penalty ``ridge`` on the weights (not on the intercept)."""
    mean_p, mean_r = predictions.mean(0), ratings.mean()
    centred = predictions - mean_p
    gram = centred.T @ centred + ridge * np.eye(predictions.shape[1])
    weights = np.linalg.solve(gram, centred.T @ (ratings - mean_r))
    return weights, float(mean_r - mean_p @ weights)


class LinearBlend(Recommender):
    """A linear blend of ``members`` (name -> model), its weights fitted on held-out ratings;
    a member already fitted on the same training ratings with the blend's validation
    fraction and seed is used as it is, the others are fitted here."""

    name = "blend"
    reads_time = True  # it passes the time of a rating to the members that read it

    def __init__(self, members: Mapping[str, Recommender], validation_fraction: float = 0.1,
                 ridge: float = 1.0, seed: int = 0,
                 fit_weights: Callable[..., tuple[np.ndarray, float]] = blend_weights) -> None:
        super().__init__()
        self.fit_weights = fit_weights  # blend_weights, or a function of the same signature
        if not members:
            raise ValueError("a blend needs at least one model in members")
        self.members = dict(members)
        self.validation_fraction, self.ridge, self.seed = validation_fraction, ridge, seed

    def fit(self, data, verbose: int = 0, **options) -> LinearBlend:
        self.dataset_ = getattr(data, "dataset", None)
        return super().fit(data, verbose, **options)

    def _read_parts(self, train: pd.DataFrame, validation: pd.DataFrame | None) -> None:
        self._parts = (train, validation)  # with every column, the time of each rating too

    def _fit(self, users, items, ratings, validation, verbose) -> None:
        (frame, validation_frame), self._parts = self._parts, None
        if validation_frame is not None:
            fit_part, held_part = frame, validation_frame
        else:
            held = holdout_mask(len(frame), self.validation_fraction, self.seed)
            fit_part, held_part = frame[~held], frame[held]
        fit_part, held_part = fit_part.reset_index(drop=True), held_part.reset_index(drop=True)
        columns = [self._held_out_predictions(member, fit_part, held_part)
                   for member in tqdm(self.members.values(), desc="blend members",
                                      disable=not verbose)]
        predictions = np.column_stack(columns).astype(np.float64)
        self.held_predictions_ = pd.DataFrame(predictions, columns=list(self.members))
        self.held_ratings_ = held_part["rating"].to_numpy(np.float64)
        weights, self.intercept_ = self.fit_weights(predictions, self.held_ratings_, self.ridge)
        self.weights_ = pd.Series(weights, index=list(self.members), name="weight")

    def _held_out_predictions(self, member: Recommender, fit_part: pd.DataFrame,
                              held_part: pd.DataFrame) -> np.ndarray:
        """A member's predictions of the held-out ratings, from a model that did not learn
        from them, the member ending fitted on every training rating (the Netflix teams'
        probe blending).

        A member trained by the course's routine early-stops on the held-out ratings, keeps
        its predictions of them (``validation_predictions_``) and is refitted on all; one
        already fitted that way on these training ratings (same validation fraction and seed
        as the blend's) is used as it is. Any other model is fitted on the rest, predicts the
        held-out ratings, and is fitted again on all of them."""
        kept = getattr(member, "validation_predictions_", None)
        if getattr(member, "fitted_", False) and kept is not None and len(kept) == len(
                held_part) and all(np.array_equal(kept[key].to_numpy(), held_part[key].to_numpy())
                                   for key in ("user", "item", "rating")):
            return kept["prediction"].to_numpy()
        parts = {"rating_scale": self.rating_scale, "dataset": self.dataset_, "validated": True}
        if member.keeps_validation_predictions and member.predicts_ratings:
            member.fit(Split(fit_part, held_part, validation=held_part, name="blend members",
                             **parts))
            return member.validation_predictions_["prediction"].to_numpy()
        member.fit(Split(fit_part, held_part, name="blend members", **parts))
        predictions = member.predict_frame(held_part)
        everything = pd.concat([fit_part, held_part], ignore_index=True)
        member.fit(Split(everything, held_part, name="blend members", **parts))
        return predictions

    def _blend(self, user_ids: np.ndarray, item_ids: np.ndarray) -> np.ndarray:
        columns = [member.predict(user_ids, item_ids, unknown="fallback")
                   for member in self.members.values()]
        scores = np.column_stack(columns) @ self.weights_.to_numpy() + self.intercept_
        return scores.astype(np.float32)

    def _predict_known(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        return self._blend(self.users_.ids_[users], self.items_.ids_[items])

    def _time_scores(self, u: np.ndarray, i: np.ndarray, users: np.ndarray, items: np.ndarray,
                     timestamps: np.ndarray) -> np.ndarray:
        """What the time changes in the members that read it, weighted as they are."""
        added = np.zeros(users.shape, dtype=np.float32)
        for weight, member in zip(self.weights_, self.members.values(), strict=True):
            if member.reads_time:
                added += weight * (member.predict(users, items, "fallback", timestamps)
                                   - member.predict(users, items, "fallback"))
        return added

    def _predict_unknown(self, users: np.ndarray, items: np.ndarray, user_ids: np.ndarray,
                         item_ids: np.ndarray) -> np.ndarray:
        return self._blend(user_ids, item_ids)  # each member has its own cold start

    # --- persistence: each member in a folder of its own, in the members' order ----------
    def _unpicklable(self) -> set[str]:
        return {"members"}

    def _save_extra(self, folder: Path) -> None:
        for number, member in enumerate(self.members.values()):
            member.save(folder / f"member_{number}")

    def _load_extra(self, folder: Path) -> None:
        self.members = {name: Recommender.load(folder / f"member_{number}")
                        for number, name in enumerate(self.weights_.index)}
