"""Every model of the course, in one place: the contract test, the benchmark suite and the
leaderboard all read this registry, so a model added here is tested, measured and ranked.

    from coursekit.models.registry import MODELS, make_model
    model = make_model("matrix factorization")          # the chapter's settings
    model = make_model("matrix factorization", epochs=5)  # with some replaced

Each entry makes the model with the settings its chapter uses (the class defaults), names the
protocols it is measured on, and gives quick settings for the contract test.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from coursekit.models.base import Recommender

Backend = Literal["numpy", "keras", "surprise", "tfrs"]


@dataclass(frozen=True)
class ModelEntry:
    """One model of the course."""

    name: str  # as tables show it
    chapter: int  # where the course teaches it
    protocols: tuple[str, ...]  # RATING, TOPN, RETRIEVAL: where the suite measures it
    factory: Callable[..., Recommender]  # settings -> a new, unfitted model
    backend: Backend = "numpy"  # "tfrs" models need a Python process of their own
    quick: dict[str, Any] = field(default_factory=dict)  # small settings for the tests

    def make(self, **settings: Any) -> Recommender:
        """A new model with its chapter's settings, ``settings`` replacing some."""
        return self.factory(**settings)


def _surprise(algorithm: str, **fixed: Any) -> Callable[..., Recommender]:
    def make(**settings: Any) -> Recommender:
        import surprise

        from coursekit.models.rating.surprise_models import SurpriseRecommender

        settings = {**fixed, **settings}
        if algorithm == "SVD":
            chosen = surprise.SVD(**{"random_state": 0, **settings})
        else:
            options = {"name": "pearson_baseline", "user_based": False}
            chosen = surprise.KNNBaseline(**{"sim_options": options, "verbose": False,
                                             **settings})
        return SurpriseRecommender(chosen, name=algorithm)

    return make


# Where each model class lives: filled by the entries below (``_lazy``) and read by
# ``coursekit.models``, which imports a class from its home when it is first asked for.
HOMES: dict[str, str] = {
    "SurpriseRecommender": "coursekit.models.rating.surprise_models",
    "tune_surprise": "coursekit.models.rating.surprise_models",
    "LinearBlend": "coursekit.models.rating.blend",
}


def _lazy(module: str, cls: str, **fixed: Any) -> Callable[..., Recommender]:
    """A factory of the class ``cls`` of ``module`` (imported when first called), with the
    settings ``fixed`` under the caller's; the class's home is recorded in :data:`HOMES`."""
    HOMES.setdefault(cls, module)

    def make(**settings: Any) -> Recommender:
        import importlib

        return getattr(importlib.import_module(module), cls)(**{**fixed, **settings})

    return make


# AutoRec's output starts at 0 and moves by the learning rate per step: on a tiny table a few
# steps at 1e-3 never reach the ratings, so the quick settings take larger steps.
_QUICK_AUTOREC = {"epochs": 30, "hidden_units": (8,), "batch_size": 8, "learning_rate": 0.05,
                  "l2": 1.0}

# The blend of chapter 7: its members, each with its chapter's settings (or the quick ones).
# Chosen by 10-fold cross-validation of the blend's weights on its held-out tenth alone, on
# the RATING split and on a split with seed 7, over every set of three or more of the course's
# rating models: the factorization machine, DeepFM, DCN-v2, I-AutoRec, KNNBaseline and the
# biases gave 0.8679 and 0.8808; the time-aware biases brought that to 0.8641 and 0.8764, and
# the best set (the deep autoencoder and U-AutoRec as well) to 0.8640 and 0.8759, a hair for
# two more networks to train. KNNBaseline and the time-aware biases minus the biases are
# their neighbourhood correction and their day's bias alone.
BLEND_MEMBERS = ("factorization machine", "DeepFM", "DCN-v2", "I-AutoRec",
                 "Surprise KNNBaseline", "user + item biases", "time-aware biases")


def _blend(members: tuple[str, ...] = BLEND_MEMBERS, quick: bool = False,
           **settings: Any) -> Recommender:
    from coursekit.models.rating.blend import LinearBlend

    return LinearBlend({name: make_model(name, **(MODELS[name].quick if quick else {}))
                        for name in members}, **settings)


_QUICK_FEATURES = {"epochs": 2, "dim": 4, "batch_size": 64}

_QUICK_SEQUENCE = {"epochs": 2, "dim": 8, "max_len": 8, "batch_size": 16}
_QUICK_IMPLICIT = {"epochs": 2, "dim": 8, "batch_size": 64}

_ENTRIES = [
    ModelEntry("global mean", 2, ("RATING",),
               _lazy("coursekit.models.rating.baselines", "GlobalMean")),
    ModelEntry("most popular", 2, ("TOPN", "RETRIEVAL"),
               _lazy("coursekit.models.rating.baselines", "MostPopular")),
    ModelEntry("user + item biases", 2, ("RATING", "TOPN"),
               _lazy("coursekit.models.rating.baselines", "BiasBaseline")),
    ModelEntry("Surprise SVD", 2, ("RATING", "TOPN"), _surprise("SVD"), "surprise",
               {"n_epochs": 3}),
    ModelEntry("Surprise KNNBaseline", 2, ("RATING",), _surprise("KNNBaseline"), "surprise"),
    # the settings chapter 3's search on the validation part chose (tune_surprise)
    ModelEntry("Surprise SVD (tuned)", 3, ("RATING",),
               _surprise("SVD", n_epochs=50, lr_all=0.01, reg_all=0.1), "surprise",
               {"n_epochs": 3}),
    ModelEntry("time-aware biases", 7, ("RATING",),
               _lazy("coursekit.models.rating.baselines", "TimeAwareBiases")),
    ModelEntry("EASE", 8, ("TOPN", "RETRIEVAL"), _lazy("coursekit.models.ranking.ease", "EASE")),
    ModelEntry("matrix factorization", 3, ("RATING", "TOPN", "RETRIEVAL"),
               _lazy("coursekit.models.rating.mf", "MatrixFactorization"), "keras",
               {"epochs": 2, "n_factors": 8}),
    ModelEntry("matrix factorization (fast)", 14, ("RATING", "TOPN", "RETRIEVAL"),
               _lazy("coursekit.models.rating.fast_mf", "FastMatrixFactorization"), "keras",
               {"epochs": 2, "n_factors": 8, "batch_size": 64}),
    ModelEntry("neural CF", 4, ("RATING", "TOPN"),
               _lazy("coursekit.models.rating.ncf", "NeuralCF"), "keras",
               {"epochs": 2, "n_factors": 8, "hidden_units": (16,), "batch_size": 64}),
    ModelEntry("I-AutoRec", 5, ("RATING", "TOPN"),
               _lazy("coursekit.models.rating.autoencoders", "AutoRec", orientation="item"),
               "keras",
               _QUICK_AUTOREC),
    ModelEntry("U-AutoRec", 5, ("RATING",),
               _lazy("coursekit.models.rating.autoencoders", "AutoRec", orientation="user"),
               "keras", _QUICK_AUTOREC),
    ModelEntry("deep autoencoder", 6, ("RATING", "TOPN"),
               _lazy("coursekit.models.rating.autoencoders", "DeepAutoencoder"), "keras",
               {"epochs": 2, "hidden_units": (8, 4, 8)}),
    ModelEntry("TFRS ranking", 11, ("RATING",),
               _lazy("coursekit.models.retrieval.tfrs", "RankingRecommender"), "tfrs",
               {"epochs": 2, "n_factors": 8, "batch_size": 64}),
    ModelEntry("TFRS two-tower retrieval", 11, ("TOPN", "RETRIEVAL"),
               _lazy("coursekit.models.retrieval.tfrs", "RetrievalRecommender"), "tfrs",
               {"epochs": 2, "n_factors": 8, "batch_size": 64}),
    ModelEntry("TFRS two-tower retrieval (logQ)", 11, ("TOPN", "RETRIEVAL"),
               _lazy("coursekit.models.retrieval.tfrs", "RetrievalRecommender",
                     sampling_correction=True),
               "tfrs", {"epochs": 2, "n_factors": 8, "batch_size": 64}),
    ModelEntry("two-tower (keras-rs)", 12, ("TOPN", "RETRIEVAL"),
               _lazy("coursekit.models.retrieval.two_tower", "TwoTowerRetrieval"), "keras",
               {"epochs": 2, "dim": 8, "batch_size": 64}),
    ModelEntry("two-tower (keras-rs, features)", 12, ("TOPN", "RETRIEVAL"),
               _lazy("coursekit.models.retrieval.two_tower", "TwoTowerRetrieval", features=True),
               "keras",
               {"epochs": 2, "dim": 8, "batch_size": 64}),
    ModelEntry("two-tower + ranker", 13, ("TOPN",),
               _lazy("coursekit.models.ranking.rerank", "RetrieveThenRank"), "keras",
               {"candidates": 10, "epochs": 3,
                "retriever": {"epochs": 2, "dim": 8, "batch_size": 64}}),
    ModelEntry("recent-item kNN", 10, ("TOPN",),
               _lazy("coursekit.models.ranking.sequential", "RecentItemKNN")),
    ModelEntry("GRU4Rec", 10, ("TOPN",), _lazy("coursekit.models.ranking.sequential", "GRU4Rec"),
               "keras", _QUICK_SEQUENCE),
    ModelEntry("SASRec", 10, ("TOPN",), _lazy("coursekit.models.ranking.sequential", "SASRec"),
               "keras", _QUICK_SEQUENCE),
    ModelEntry("implicit ALS", 9, ("TOPN",),
               _lazy("coursekit.models.ranking.implicit", "ImplicitALS"),
               quick={"dim": 8, "iterations": 3}),
    ModelEntry("MF (BCE)", 9, ("TOPN",), _lazy("coursekit.models.ranking.implicit", "ImplicitMF"),
               "keras", _QUICK_IMPLICIT),
    ModelEntry("BPR-MF", 9, ("TOPN",), _lazy("coursekit.models.ranking.implicit", "BPRMF"), "keras",
               _QUICK_IMPLICIT),
    ModelEntry("MLP (BCE)", 9, ("TOPN",),
               _lazy("coursekit.models.ranking.implicit", "NeuMF", towers=("mlp",)), "keras",
               {**_QUICK_IMPLICIT, "hidden_units": (8,)}),
    ModelEntry("NeuMF", 9, ("TOPN",), _lazy("coursekit.models.ranking.implicit", "NeuMF"), "keras",
               {**_QUICK_IMPLICIT, "hidden_units": (8,)}),
    ModelEntry("factorization machine", 7, ("RATING",),
               _lazy("coursekit.models.rating.feature_models", "FactorizationMachine"), "keras",
               _QUICK_FEATURES),
    ModelEntry("DeepFM", 7, ("RATING",),
               _lazy("coursekit.models.rating.feature_models", "DeepFM"), "keras",
               {**_QUICK_FEATURES, "hidden_units": (8,)}),
    ModelEntry("DCN-v2", 7, ("RATING",),
               _lazy("coursekit.models.rating.feature_models", "DeepCrossNetwork"),
               "keras", {**_QUICK_FEATURES, "hidden_units": (8,), "projection_dim": 4}),
    ModelEntry("Bayesian FM (myFM)", 7, ("RATING",),
               _lazy("coursekit.models.rating.bayesian_fm", "BayesianFactorizationMachine"),
               quick={"n_iter": 5, "n_kept_samples": 3, "rank": 4}),
    ModelEntry("blend", 7, ("RATING",), _blend, "keras",
               {"quick": True, "members": ("user + item biases", "factorization machine")}),
]

MODELS: dict[str, ModelEntry] = {entry.name: entry for entry in _ENTRIES}


def model_names(backend: Backend | None = None) -> list[str]:
    """The registered models' names, in the course's order (optionally of one backend)."""
    return [name for name, entry in MODELS.items() if backend in (None, entry.backend)]


def get_entry(name: str) -> ModelEntry:
    """The registry entry of ``name``, or a clear error listing the names it knows."""
    try:
        return MODELS[name]
    except KeyError:
        raise KeyError(f"No model named {name!r} in the registry; it knows {list(MODELS)}.")\
            from None


def make_model(name: str, **settings: Any) -> Recommender:
    """The model ``name`` with its chapter's settings (``settings`` replace some)."""
    return get_entry(name).make(**settings)
