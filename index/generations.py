"""Crash-safe index directories: complete generations behind an atomically switched pointer.

A writer builds a whole new generation in a staging directory, fsyncs it, renames it into
place and only then replaces the ``CURRENT`` pointer (temp file + ``os.replace``). Readers
follow the pointer, so a writer killed at any moment leaves the previous generation in use;
its leftovers are deleted by the next writer, which also holds a file lock so two writers
never interleave.
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from zoomqa.errors import ZoomqaError

POINTER = "CURRENT"
LOCK = ".lock"
_GENERATION = re.compile(r"^gen-(\d{6})$")
_STAGING_PREFIX = ".staging-"


def current_generation(index_dir: Path) -> Path | None:
    """The directory the pointer names, or None when no index was ever published."""
    pointer = index_dir / POINTER
    try:
        name = pointer.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise ZoomqaError(f"cannot read the index pointer {pointer}: {exc}") from None
    if not _GENERATION.match(name):
        raise ZoomqaError(
            f"the index pointer {pointer} is corrupt; rebuild with `zoomqa index build --rebuild`"
        )
    return index_dir / name


def _next_generation(index_dir: Path) -> Path:
    numbers = [int(m.group(1)) for e in index_dir.iterdir() if (m := _GENERATION.match(e.name))]
    return index_dir / f"gen-{max(numbers, default=0) + 1:06d}"


@contextmanager
def writer_lock(index_dir: Path) -> Iterator[None]:
    """Exclusive right to change ``index_dir``; a second writer fails at once with a clear error."""
    index_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(index_dir / LOCK), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise ZoomqaError(
            f"another zoomqa process is changing the index at {index_dir}; wait for it to finish "
            "and try again"
        ) from None
    try:
        yield
    finally:
        lock.release()


def remove_stale(index_dir: Path, keep: Path | None) -> None:
    """Delete staging leftovers and every generation but ``keep`` (hold the lock)."""
    for entry in index_dir.iterdir():
        stale_generation = _GENERATION.match(entry.name) and entry != keep
        if entry.is_dir() and (stale_generation or entry.name.startswith(_STAGING_PREFIX)):
            shutil.rmtree(entry, ignore_errors=True)
    (index_dir / f"{POINTER}.tmp").unlink(missing_ok=True)


def new_staging_dir(index_dir: Path) -> Path:
    """An empty directory to build the next generation in (hold the lock)."""
    staging = index_dir / f"{_STAGING_PREFIX}{uuid.uuid4().hex}"
    staging.mkdir()
    return staging


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(root: Path) -> None:
    """Flush every file and directory under ``root`` to disk, children before parents."""
    for directory, _, files in os.walk(root, topdown=False):
        for name in files:
            _fsync_path(Path(directory) / name)
        _fsync_path(Path(directory))


def publish(index_dir: Path, staging: Path) -> Path:
    """Make a fully written staging directory the current generation; returns its path."""
    fsync_tree(staging)
    generation = _next_generation(index_dir)
    os.replace(staging, generation)
    _fsync_path(index_dir)
    pointer_tmp = index_dir / f"{POINTER}.tmp"
    with open(pointer_tmp, "w", encoding="utf-8") as handle:
        handle.write(generation.name + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(pointer_tmp, index_dir / POINTER)
    _fsync_path(index_dir)
    remove_stale(index_dir, keep=generation)
    return generation
