"""Chapter 13's serving tools: the extra coordinate that turns the largest dot product into the
nearest neighbour, recall against exact search, the indexes and their sweep."""

from __future__ import annotations

import numpy as np
import pytest

from coursekit.models.retrieval.serving import (
    build_index,
    index_megabytes,
    inner_product_as_distance,
    recall_at_k,
    search_sweep,
    synthetic_catalogue,
)

pytest.importorskip("faiss")


@pytest.fixture(scope="module")
def vectors():
    rng = np.random.default_rng(0)
    films = rng.normal(size=(300, 6)) * rng.uniform(0.2, 3.0, size=(300, 1))  # unequal norms
    return films.astype(np.float32), rng.normal(size=(40, 6)).astype(np.float32)


def test_nearest_after_the_extra_coordinate_is_the_largest_dot_product(vectors):
    films, queries = vectors
    wide_films, wide_queries = inner_product_as_distance(films, queries)
    assert wide_films.shape == (300, 7) and np.all(wide_queries[:, -1] == 0)
    assert np.allclose(np.linalg.norm(wide_films, axis=1), np.linalg.norm(films, axis=1).max(),
                       rtol=1e-5)
    distance = ((wide_queries[:, None, :] - wide_films[None]) ** 2).sum(-1)
    assert np.array_equal(distance.argmin(1), (queries @ films.T).argmax(1))
    # without it, the nearest film is often not the best one
    plain = ((queries[:, None, :] - films[None]) ** 2).sum(-1)
    assert not np.array_equal(plain.argmin(1), (queries @ films.T).argmax(1))


def test_recall_counts_the_exact_neighbours_returned():
    exact = np.array([[1, 2, 3, 4], [5, 6, 7, 8]])
    assert recall_at_k(exact, exact) == 1.0
    assert recall_at_k(np.array([[4, 3, 9, 9], [0, 0, 0, 0]]), exact) == pytest.approx(0.25)


def test_exact_index_has_full_recall_and_approximate_ones_nearly(vectors):
    films, queries = inner_product_as_distance(*vectors)
    exact, _ = build_index("exact", films)
    _, truth = exact.search(queries, 10)
    assert search_sweep(exact, queries, truth, None, k=10)["recall@10"].iloc[0] == 1.0
    hnsw, seconds = build_index("hnsw", films, links=8)
    sweep = search_sweep(hnsw, queries, truth, "efSearch", (10, 64), k=10)
    assert seconds >= 0 and sweep["recall@10"].iloc[-1] >= 0.95
    ivf, _ = build_index("ivf", films, lists=8)
    recalls = search_sweep(ivf, queries, truth, "nprobe", (1, 8), k=10)["recall@10"]
    assert recalls.iloc[-1] == 1.0 and recalls.iloc[0] < 1.0  # every cluster: exact
    assert index_megabytes(exact) > 300 * 7 * 4 / 2**20


def test_an_unknown_index_kind_is_refused(vectors):
    with pytest.raises(ValueError, match="'exact', 'hnsw' or 'ivf'"):
        build_index("annoy", vectors[0])


def test_the_synthetic_catalogue_keeps_the_films_clusters(vectors):
    films = vectors[0]
    catalogue = synthetic_catalogue(films, 5000, noise=0.1, seed=1)
    assert catalogue.shape == (5000, 6) and catalogue.dtype == np.float32
    assert np.array_equal(catalogue, synthetic_catalogue(films, 5000, noise=0.1, seed=1))
    nearest = ((catalogue[:200, None, :] - films[None]) ** 2).sum(-1).min(1)
    assert np.median(nearest) < 0.1 * np.median(((films[:, None] - films[None]) ** 2).sum(-1))
    with pytest.raises(ValueError, match="size"):
        synthetic_catalogue(films, 0)
