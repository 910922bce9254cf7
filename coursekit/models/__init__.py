"""coursekit.models: every model of the course behind one interface (see ``base``).

Keras models are imported lazily, so that ``import coursekit.models`` stays fast and does not
load TensorFlow until a Keras model is used.
"""

from .base import NotFittedError, Popularity, Recommender
from .baselines import BiasBaseline, GlobalMean, MostPopular, TimeAwareBiases

__all__ = [
    "AutoRec", "BiasBaseline", "DeepAutoencoder", "EASE", "FastMatrixFactorization", "GlobalMean",
    "MatrixFactorization",
    "MostPopular", "NeuralCF", "NotFittedError", "Popularity", "Recommender", "SurpriseRecommender",
    "TimeAwareBiases", "tune_surprise",
]


def __getattr__(name: str):
    if name == "MatrixFactorization":
        from .mf import MatrixFactorization

        return MatrixFactorization
    if name == "EASE":
        from .ease import EASE

        return EASE
    if name == "FastMatrixFactorization":
        from .fast_mf import FastMatrixFactorization

        return FastMatrixFactorization
    if name == "NeuralCF":
        from .ncf import NeuralCF

        return NeuralCF
    if name in ("AutoRec", "DeepAutoencoder"):
        from . import autoencoders

        return getattr(autoencoders, name)
    if name in ("SurpriseRecommender", "tune_surprise"):
        from . import surprise_models

        return getattr(surprise_models, name)
    raise AttributeError(f"module 'coursekit.models' has no attribute {name!r}")
