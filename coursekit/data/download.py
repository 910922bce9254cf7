"""Downloading MovieLens archives into a local cache, verified by SHA-256.

Downloads go through `pooch` (progress bar, temporary file moved into place only when the
transfer completes). Every archive is hashed before it is used; a file with the wrong hash is
deleted, so a broken or tampered download never lingers in the cache.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
import warnings
from pathlib import Path

from coursekit.data.registry import (
    RECBOLE_REQUIREMENT,
    RECBOLE_WHEEL,
    RECBOLE_WHEEL_SHA256,
    ArchiveSpec,
)
from coursekit.errors import DatasetHashError, DatasetUnavailableError

CACHE_ENV_VAR = "COURSEKIT_DATA_DIR"
DOWNLOAD_TIMEOUT_S = 60


def cache_dir() -> Path:
    """Directory where archives are kept: ``$COURSEKIT_DATA_DIR``, else the user cache."""
    override = os.environ.get(CACHE_ENV_VAR)
    if override:
        path = Path(override).expanduser()
    else:
        import pooch

        path = Path(pooch.os_cache("coursekit"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def sha256_of(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a file, as 64 lowercase hex digits."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _hash_error(path: Path, expected: str, actual: str, hint: str = "") -> DatasetHashError:
    return DatasetHashError(
        f"SHA-256 mismatch for {path.name}: expected {expected}, got {actual}. "
        f"The file was removed from {path.parent} so that it cannot be used by mistake. "
        + (hint or "Run the call again to download a fresh copy.")
    )


def _verified_cached(path: Path, expected: str) -> bool:
    """True when a cached copy with the right hash exists; a bad copy is removed."""
    if not path.exists():
        return False
    actual = sha256_of(path)
    if actual == expected:
        return True
    path.unlink()
    warnings.warn(
        f"The cached {path.name} had SHA-256 {actual} instead of {expected} "
        "(a damaged or partial file); it was removed and will be downloaded again.",
        stacklevel=3,
    )
    return False


def _mismatch_hint(spec: ArchiveSpec) -> str:
    if spec.regenerated:
        return (
            f"GroupLens regenerates '{spec.name}' from time to time, so a new hash can mean a "
            "new release of the archive rather than a damaged download. Check the dataset page "
            "and, if a new release was published, update the hash in coursekit's registry."
        )
    return "Run the call again to download a fresh copy; if it fails again, report it."


def fetch_archive(spec: ArchiveSpec, progressbar: bool = True) -> Path:
    """Return the path of the verified archive for ``spec``, downloading it if needed."""
    import pooch
    import requests

    folder = cache_dir()
    target = folder / spec.filename
    if _verified_cached(target, spec.sha256):
        return target

    # A name of its own for every download, so that two notebooks filling one cache at once
    # never write into (or delete) each other's file; the verified archive is moved into
    # place atomically, and the last one to finish replaces an identical file.
    unverified = f".{target.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.unverified"
    downloader = pooch.HTTPDownloader(progressbar=progressbar, timeout=DOWNLOAD_TIMEOUT_S)
    try:
        pooch.retrieve(
            spec.url, known_hash=None, fname=unverified, path=folder, downloader=downloader
        )
    except (requests.exceptions.RequestException, OSError) as error:
        _remove_quietly(folder / unverified)
        raise DatasetUnavailableError(
            f"Could not download {spec.name} from {spec.url} ({type(error).__name__}: {error}). "
            f"Nothing was left in {folder}. Check the network connection and try again, or put "
            f"the archive {spec.filename} (SHA-256 {spec.sha256}) into {folder} by hand "
            f"(set {CACHE_ENV_VAR} to use another folder)."
        ) from error

    downloaded = folder / unverified
    try:
        actual = sha256_of(downloaded)
        if actual != spec.sha256:
            downloaded.unlink()
            raise _hash_error(target, spec.sha256, actual, _mismatch_hint(spec))
        os.replace(downloaded, target)
    finally:
        _remove_quietly(downloaded)
    return target


def _remove_quietly(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass


def pip_download_wheel(requirement: str, destination: Path) -> Path:
    """Download one wheel, without its dependencies, with this interpreter's pip."""
    command = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
        "--disable-pip-version-check", "--quiet", "--dest", str(destination), requirement,
    ]
    try:
        subprocess.run(command, check=True, capture_output=True, text=True, timeout=600)
    except FileNotFoundError as error:  # no pip in this interpreter
        raise DatasetUnavailableError(f"pip is not available to fetch {requirement}.") from error
    except subprocess.CalledProcessError as error:
        tail = (error.stderr or error.stdout or "").strip().splitlines()[-3:]
        raise DatasetUnavailableError(
            f"pip could not download {requirement}: {' / '.join(tail)}"
        ) from error
    except subprocess.TimeoutExpired as error:
        raise DatasetUnavailableError(f"pip timed out downloading {requirement}.") from error
    wheels = sorted(destination.glob("*.whl"))
    if not wheels:
        raise DatasetUnavailableError(f"pip reported success but left no wheel for {requirement}.")
    return wheels[0]


def fetch_recbole_wheel() -> Path:
    """Return the verified RecBole wheel that carries ML-100K (downloaded, never installed)."""
    folder = cache_dir()
    target = folder / RECBOLE_WHEEL
    if _verified_cached(target, RECBOLE_WHEEL_SHA256):
        return target
    with tempfile.TemporaryDirectory(dir=folder, prefix=".recbole-") as scratch:
        print(f"Downloading the {RECBOLE_REQUIREMENT} wheel (2 MB, files only; not installed)...")
        wheel = pip_download_wheel(RECBOLE_REQUIREMENT, Path(scratch))
        actual = sha256_of(wheel)
        if actual != RECBOLE_WHEEL_SHA256:
            raise _hash_error(target, RECBOLE_WHEEL_SHA256, actual)
        shutil.move(str(wheel), target)
    return target


def sha256_of_bytes(data: bytes) -> str:
    """SHA-256 of bytes in memory, as 64 lowercase hex digits."""
    return hashlib.sha256(data).hexdigest()
