"""Serving retrieval at scale (chapter 13): exact and approximate nearest-neighbour indexes
over a two-tower model's film vectors, compared by recall against exact search, queries per
second, build time and memory.

FAISS is imported when an index is built, so that coursekit imports without it; in Colab the
chapter's first cell installs ``faiss-cpu``.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

import numpy as np
import pandas as pd


def _faiss():
    try:
        import faiss
    except ImportError as error:
        raise ImportError(
            "Approximate search uses FAISS: install it with `pip install faiss-cpu` "
            "(in Colab: `%pip install faiss-cpu`), then run this cell again.") from error
    return faiss


def synthetic_catalogue(film_vectors: np.ndarray, size: int, noise: float = 0.5,
                        seed: int = 0) -> np.ndarray:
    """``size`` film vectors that resemble ``film_vectors``: each is a real film's vector plus
    Gaussian noise of ``noise`` times each dimension's spread, so the catalogue keeps the
    clusters of the real one (a random cloud would have none, and no index could exploit
    any)."""
    if size < 1:
        raise ValueError(f"size is a number of films, at least 1, not {size}")
    film_vectors = np.asarray(film_vectors, dtype=np.float32)
    rng = np.random.default_rng(seed)
    spread = film_vectors.std(axis=0) * noise
    out = np.empty((size, film_vectors.shape[1]), dtype=np.float32)
    for start in range(0, size, 100_000):  # in blocks: a million rows without a float64 copy
        stop = min(size, start + 100_000)
        base = film_vectors[rng.integers(len(film_vectors), size=stop - start)]
        out[start:stop] = base + rng.standard_normal(base.shape, dtype=np.float32) * spread
    return out


# taught: ch-serving-at-scale
def inner_product_as_distance(films: np.ndarray, queries: np.ndarray
                              ) -> tuple[np.ndarray, np.ndarray]:
    """Films and queries with one more coordinate, so that the nearest films in Euclidean
    distance are the films of largest inner product (Bachrach et al. 2014): each film gets
    sqrt(M^2 - |film|^2), with M the largest film norm, and each query 0. Then
    |q - f|^2 = |q|^2 + M^2 - 2 q.f, and |q|^2 + M^2 is the same for every film."""
    films = np.asarray(films, dtype=np.float32)
    norms = np.einsum("ij,ij->i", films, films)
    extra = np.sqrt(np.maximum(norms.max() - norms, 0.0))[:, None]
    queries = np.asarray(queries, dtype=np.float32)
    return (np.hstack([films, extra]).astype(np.float32),
            np.hstack([queries, np.zeros((len(queries), 1), np.float32)]))


def build_index(kind: str, vectors: np.ndarray, seed: int = 0, **settings):
    """A FAISS index over ``vectors`` for nearest neighbours in Euclidean distance (give it
    the output of :func:`inner_product_as_distance` for the largest inner products), and its
    build time in seconds.

    ``kind`` is ``"exact"`` (every vector scanned), ``"hnsw"`` (a graph: ``links`` per node,
    ``ef_construction``) or ``"ivf"`` (``lists`` clusters, trained by k-means on at most
    ``train_size`` of the vectors; a query scans the ``nprobe`` nearest clusters)."""
    faiss = _faiss()
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    dim = vectors.shape[1]
    started = time.perf_counter()
    if kind == "exact":
        index = faiss.IndexFlatL2(dim)
    elif kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, settings.get("links", 32))
        index.hnsw.efConstruction = settings.get("ef_construction", 64)
    elif kind == "ivf":
        lists = settings.get("lists", 1024)
        quantizer = faiss.IndexFlatL2(dim)
        index = faiss.IndexIVFFlat(quantizer, dim, lists)
        sample = np.random.default_rng(seed).permutation(len(vectors))[
            :settings.get("train_size", 50_000)]
        index.cp.seed = seed  # k-means' start
        index.train(vectors[np.sort(sample)])
    else:
        raise ValueError(f"kind is 'exact', 'hnsw' or 'ivf', not {kind!r}")
    threads = faiss.omp_get_max_threads()
    if kind == "hnsw":
        faiss.omp_set_num_threads(1)  # a graph built in parallel differs from run to run
    try:
        index.add(vectors)
    finally:
        faiss.omp_set_num_threads(threads)
    return index, time.perf_counter() - started


def index_megabytes(index) -> float:
    """The index's size in memory, as FAISS writes it out (vectors, graph, codes)."""
    return _faiss().serialize_index(index).nbytes / 2**20


# taught: ch-serving-at-scale
def recall_at_k(found: np.ndarray, exact: np.ndarray) -> float:
    """Share of the exact top-k (rows of ``exact``) that the index also returned (``found``),
    averaged over queries: 1.0 means the approximate lists hold every exact neighbour."""
    hits = [np.intersect1d(f, e).size / e.size for f, e in zip(found, exact, strict=True)]
    return float(np.mean(hits))


def search_sweep(index, queries: np.ndarray, exact: np.ndarray, knob: str | None,
                 values: Iterable[int] = (None,), k: int = 100) -> pd.DataFrame:
    """Recall@k against ``exact`` and queries per second for each value of the index's
    search-time ``knob`` (``"efSearch"`` for HNSW, ``"nprobe"`` for IVF, None for exact)."""
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    rows = []
    for value in values:
        if knob == "efSearch":
            index.hnsw.efSearch = max(value, k)
        elif knob == "nprobe":
            index.nprobe = value
        started = time.perf_counter()
        _, found = index.search(queries, k)
        seconds = time.perf_counter() - started
        rows.append({"setting": f"{knob}={value}" if knob else "exact",
                     f"recall@{k}": recall_at_k(found, exact),
                     "queries/s": len(queries) / seconds})
    return pd.DataFrame(rows)
