"""Loading MovieLens: the offline ml-100k source, every file format, and every failure."""

from __future__ import annotations

import socket
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import csv_layout_archive, ml1m_archive, serve_dataset, zip_bytes

from coursekit.data import download, load_movielens, movielens, registry
from coursekit.data.movielens import ML100K_GENRES, read_grouplens_ml100k
from coursekit.errors import DatasetHashError, DatasetUnavailableError, UnknownDatasetError


def test_ml100k_has_the_published_counts(ml100k):
    assert len(ml100k.ratings) == 100_000
    assert ml100k.n_users == 943
    assert ml100k.n_items == 1_682
    assert list(ml100k.ratings.columns) == ["user", "item", "rating", "timestamp"]
    assert ml100k.ratings.dtypes.astype(str).tolist() == ["int64", "int64", "float32", "int64"]
    assert set(ml100k.ratings["rating"].unique()) == {1.0, 2.0, 3.0, 4.0, 5.0}


def test_ml100k_items_and_users_follow_the_schema(ml100k):
    items = ml100k.items.set_index("item")
    assert list(ml100k.items.columns) == ["item", "title", "genres", "year"]
    assert items.loc[1, "title"] == "Toy Story (1995)"
    assert items.loc[1, "genres"] == ["Animation", "Children's", "Comedy"]
    assert items.loc[64, "title"] == "Shawshank Redemption, The (1994)"
    assert items.loc[64, "year"] == 1994
    assert all(isinstance(g, list) for g in ml100k.items["genres"])
    assert list(ml100k.users.columns) == ["user", "age", "gender", "occupation", "zip_code"]
    assert ml100k.users.set_index("user").loc[1, "occupation"] == "technician"
    assert ml100k.titles([50, 999_999]) == ["Star Wars (1977)", "?"]


def test_offline_source_is_the_recbole_wheel_never_installed(ml100k):
    import importlib.util

    wheel = download.cache_dir() / registry.RECBOLE_WHEEL
    assert ml100k.source in ("recbole", "grouplens")
    if ml100k.source == "recbole":
        assert download.sha256_of(wheel) == registry.RECBOLE_WHEEL_SHA256
    assert importlib.util.find_spec("recbole") is None


def _grouplens_archive_from(data: movielens.MovieLens) -> bytes:
    """Write a MovieLens object back out in GroupLens's ml-100k file format."""
    ratings = data.ratings.astype({"rating": int})
    u_data = ratings.to_csv(sep="\t", header=False, index=False)
    rows = []
    for item in data.items.itertuples():
        flags = "|".join("1" if g in item.genres else "0" for g in ML100K_GENRES)
        rows.append(f"{item.item}|{item.title}|01-Jan-1995||http://x|{flags}")
    u_item = "\n".join(rows) + "\n"
    u_user = data.users.to_csv(sep="|", header=False, index=False)
    return zip_bytes({
        "ml-100k/u.data": u_data.encode(),
        "ml-100k/u.item": u_item.encode("latin-1"),
        "ml-100k/u.user": u_user.encode(),
    })


def test_grouplens_and_recbole_formats_give_identical_data(ml100k, tmp_path):
    archive = tmp_path / "ml-100k.zip"
    archive.write_bytes(_grouplens_archive_from(ml100k))
    again = read_grouplens_ml100k(archive)
    pd.testing.assert_frame_equal(again.ratings, ml100k.ratings)
    pd.testing.assert_frame_equal(again.items, ml100k.items)
    pd.testing.assert_frame_equal(again.users, ml100k.users)


def _host_reachable(host: str) -> bool:
    try:
        socket.create_connection((host, 443), timeout=3).close()
        return True
    except OSError:
        return False


@pytest.mark.network
@pytest.mark.skipif(not _host_reachable("files.grouplens.org"),
                    reason="the MovieLens host cannot be reached from here")
def test_both_real_sources_yield_identical_ratings(cache):
    grouplens = load_movielens("ml-100k", source="grouplens", progressbar=False)
    recbole = load_movielens("ml-100k", source="recbole", progressbar=False)
    key = ["user", "item"]
    pd.testing.assert_frame_equal(
        grouplens.ratings.sort_values(key).reset_index(drop=True),
        recbole.ratings.sort_values(key).reset_index(drop=True),
    )


def test_unknown_dataset_name_lists_the_valid_names():
    with pytest.raises(UnknownDatasetError) as info:
        load_movielens("ml-10k")
    message = str(info.value)
    assert "'ml-10k'" in message
    for name in ("ml-100k", "ml-latest-small", "ml-1m", "ml-20m", "ml-25m"):
        assert name in message


def test_csv_layout_downloads_and_parses(cache, server, monkeypatch):
    serve_dataset(monkeypatch, server, "ml-latest-small", csv_layout_archive())
    data = load_movielens("ml-latest-small", progressbar=False)
    assert len(data.ratings) == 4 and data.users is None
    assert data.ratings["rating"].tolist() == [4.0, 4.5, 0.5, 3.0]
    items = data.items.set_index("item")
    assert items.loc[2, "title"] == "American President, The (1995)"
    assert items.loc[1, "genres"][:2] == ["Adventure", "Animation"]
    assert items.loc[3, "genres"] == [] and pd.isna(items.loc[3, "year"])
    assert (cache / "ml-latest-small.zip").exists()
    assert sorted(p.name for p in cache.iterdir()) == ["ml-latest-small.zip"]


def test_ml1m_layout_parses_users_and_genres(cache, server, monkeypatch):
    serve_dataset(monkeypatch, server, "ml-1m", ml1m_archive())
    data = load_movielens("ml-1m", progressbar=False)
    assert data.ratings[["user", "item"]].values.tolist() == [[1, 1193], [1, 661], [2, 1193]]
    users = data.users.set_index("user")
    assert users.loc[1, "occupation"] == "K-12 student"
    assert users.loc[2, "occupation"] == "self-employed"
    items = data.items.set_index("item")
    assert items.loc[661, "genres"] == ["Animation", "Children's", "Musical"]


def test_second_load_uses_the_cache_without_network(cache, server, monkeypatch):
    serve_dataset(monkeypatch, server, "ml-latest-small", csv_layout_archive())
    load_movielens("ml-latest-small", progressbar=False)
    server[1].routes.clear()  # the server now answers 404 to everything
    data = load_movielens("ml-latest-small", progressbar=False)
    assert len(data.ratings) == 4
    assert server[1].hits == {"/ml-latest-small.zip": 1}


def test_hash_mismatch_names_file_and_hashes_and_removes_it(cache, server, monkeypatch):
    wrong = "0" * 64
    archive = csv_layout_archive("ml-20m")
    serve_dataset(monkeypatch, server, "ml-20m", archive, registered_hash=wrong)
    with pytest.raises(DatasetHashError) as info:
        load_movielens("ml-20m", progressbar=False)
    message = str(info.value)
    assert "ml-20m.zip" in message
    assert wrong in message
    assert download.sha256_of_bytes(archive) in message
    assert list(cache.iterdir()) == []


def test_latest_archive_mismatch_says_it_may_be_regenerated(cache, server, monkeypatch):
    serve_dataset(monkeypatch, server, "ml-latest-small", csv_layout_archive(),
                  registered_hash="1" * 64)
    with pytest.raises(DatasetHashError, match="regenerates"):
        load_movielens("ml-latest-small", progressbar=False)


def test_broken_download_leaves_no_partial_file(cache, server, monkeypatch):
    archive = csv_layout_archive("ml-25m")
    serve_dataset(monkeypatch, server, "ml-25m", archive[: len(archive) // 2],
                  declared_length=len(archive))
    with pytest.raises(DatasetUnavailableError, match="Nothing was left"):
        load_movielens("ml-25m", progressbar=False)
    assert list(cache.iterdir()) == []


def test_damaged_cached_archive_is_replaced(cache, server, monkeypatch):
    serve_dataset(monkeypatch, server, "ml-latest-small", csv_layout_archive())
    cache.mkdir(parents=True, exist_ok=True)
    (cache / "ml-latest-small.zip").write_bytes(b"half a zip file")
    with pytest.warns(UserWarning, match="damaged or partial"):
        data = load_movielens("ml-latest-small", progressbar=False)
    assert len(data.ratings) == 4


def _closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_no_network_and_no_cache_says_how_to_get_the_data(cache, monkeypatch):
    from dataclasses import replace

    dead = _closed_port_url()
    spec = registry.DATASETS["ml-100k"]
    monkeypatch.setitem(registry.DATASETS, "ml-100k", replace(spec, url=dead + "/ml-100k.zip"))
    # pip, too, finds no index: no configuration files, an index on a closed port, no retries.
    monkeypatch.setenv("PIP_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("PIP_INDEX_URL", dead + "/simple")
    monkeypatch.setenv("PIP_RETRIES", "0")
    monkeypatch.setenv("PIP_TIMEOUT", "3")
    monkeypatch.delenv("PIP_FIND_LINKS", raising=False)
    monkeypatch.delenv("PIP_EXTRA_INDEX_URL", raising=False)
    with pytest.raises(DatasetUnavailableError) as info:
        load_movielens("ml-100k", progressbar=False)
    message = str(info.value)
    assert "not in the cache" in message
    assert str(cache) in message
    assert "COURSEKIT_DATA_DIR" in message
    assert "recbole" in message.lower()
    assert [p for p in cache.iterdir() if not p.name.startswith(".")] == []


def test_recbole_wheel_with_wrong_hash_is_rejected(cache, monkeypatch, tmp_path):
    def fake_pip(requirement: str, destination: Path) -> Path:
        wheel = destination / registry.RECBOLE_WHEEL
        with zipfile.ZipFile(wheel, "w") as archive:
            archive.writestr("recbole/__init__.py", "")
        return wheel

    monkeypatch.setattr(download, "pip_download_wheel", fake_pip)
    with pytest.raises(DatasetHashError, match=registry.RECBOLE_WHEEL_SHA256):
        load_movielens("ml-100k", source="recbole")
    assert not (cache / registry.RECBOLE_WHEEL).exists()


def test_cache_folder_follows_the_environment_variable(cache):
    assert download.cache_dir() == cache and cache.is_dir()


def test_every_registered_archive_has_a_sha256():
    for spec in registry.DATASETS.values():
        assert len(spec.sha256) == 64 and int(spec.sha256, 16) >= 0
        assert spec.url.endswith(spec.filename)
    assert np.all([r[0] < r[1] for r in (s.rating_scale for s in registry.DATASETS.values())])
