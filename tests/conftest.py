"""Shared fixtures: a private data cache, a local HTTP server standing in for GroupLens,
and small archives in each MovieLens file format."""

from __future__ import annotations

import http.server
import io
import socket
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from coursekit.data import download, registry


@pytest.fixture(scope="session")
def ml100k():
    """The real ml-100k, from the shared cache (downloaded once if needed)."""
    from coursekit.data import load_movielens

    return load_movielens("ml-100k", progressbar=False)


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty private cache folder, selected through the environment variable."""
    folder = tmp_path / "cache"
    monkeypatch.setenv(download.CACHE_ENV_VAR, str(folder))
    return folder


class _Files:
    """What the local server serves: path -> (body, declared length or None)."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[bytes, int | None]] = {}
        self.hits: dict[str, int] = {}


@pytest.fixture
def server() -> Iterator[tuple[str, _Files]]:
    files = _Files()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            files.hits[self.path] = files.hits.get(self.path, 0) + 1
            if self.path not in files.routes:
                self.send_error(404)
                return
            body, declared = files.routes[self.path]
            self.send_response(200)
            self.send_header("Content-Type", "application/zip")
            self.send_header("Content-Length", str(declared or len(body)))
            self.end_headers()
            self.wfile.write(body)
            if declared:  # a broken transfer: fewer bytes than announced, then hang up
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)

        def log_message(self, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", files
    httpd.shutdown()
    httpd.server_close()


def serve_dataset(
    monkeypatch: pytest.MonkeyPatch,
    server: tuple[str, _Files],
    name: str,
    archive: bytes,
    registered_hash: str | None = None,
    declared_length: int | None = None,
) -> registry.ArchiveSpec:
    """Point dataset ``name`` at the local server, serving ``archive``."""
    base, files = server
    spec = registry.DATASETS[name]
    path = "/" + spec.filename
    files.routes[path] = (archive, declared_length)
    digest = registered_hash or download.sha256_of_bytes(archive)
    patched = replace(spec, url=base + path, sha256=digest)
    monkeypatch.setitem(registry.DATASETS, name, patched)
    return patched


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def csv_layout_archive(folder: str = "ml-latest-small") -> bytes:
    ratings = (
        "userId,movieId,rating,timestamp\n"
        "1,1,4.0,964982703\n1,3,4.5,964981247\n2,1,0.5,964982224\n2,2,3.0,964983815\n"
    )
    movies = (
        "movieId,title,genres\n"
        "1,Toy Story (1995),Adventure|Animation|Children|Comedy|Fantasy\n"
        '2,"American President, The (1995)",Comedy|Drama|Romance\n'
        "3,Some Film Without Year,(no genres listed)\n"
    )
    return zip_bytes({f"{folder}/ratings.csv": ratings.encode(),
                      f"{folder}/movies.csv": movies.encode()})


def ml1m_archive() -> bytes:
    ratings = "1::1193::5::978300760\n1::661::3::978302109\n2::1193::4::978298413\n"
    movies = ("1193::One Flew Over the Cuckoo's Nest (1975)::Drama\n"
              "661::James and the Giant Peach (1996)::Animation|Children's|Musical\n")
    users = "1::F::1::10::48067\n2::M::56::16::70072\n"
    return zip_bytes({
        "ml-1m/ratings.dat": ratings.encode("latin-1"),
        "ml-1m/movies.dat": movies.encode("latin-1"),
        "ml-1m/users.dat": users.encode("latin-1"),
    })


__all__ = ["csv_layout_archive", "ml1m_archive", "serve_dataset", "zip_bytes"]
