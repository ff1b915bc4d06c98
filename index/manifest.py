"""The manifest of an index generation: what it holds and what made it.

Opening an index compares the manifest with the files beside it and with the configured
embedder, so a damaged or foreign index is refused with a clear message instead of
answering with garbage.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from zoomqa.errors import ZoomqaError

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
REBUILD_HINT = "rebuild it with `zoomqa index build --rebuild`"


class Manifest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    format: int
    embedder: str = Field(description="Identity of the embedder, 'name@sha256-prefix'.")
    dim: int = Field(ge=1)
    count: int = Field(ge=0)
    digest: str = Field(description="sha256 over every (id, content hash), sorted by id.")
    sources: dict[str, int] = Field(description="Records per source they were ingested from.")
    created: datetime
    files: dict[str, int] = Field(description="Size in bytes of every data file, by relative path.")


def records_digest(hashes: Iterable[tuple[str, str]]) -> str:
    """One hash for the whole content: equal digests mean equal records."""
    digest = hashlib.sha256()
    for record_id, content_hash in sorted(hashes):
        digest.update(f"{record_id}\t{content_hash}\n".encode())
    return digest.hexdigest()


def file_sizes(generation: Path) -> dict[str, int]:
    """Sizes of every file under a generation except the manifest itself."""
    return {
        path.relative_to(generation).as_posix(): path.stat().st_size
        for path in sorted(generation.rglob("*"))
        if path.is_file() and path.name != MANIFEST
    }


def write_manifest(generation: Path, manifest: Manifest) -> None:
    (generation / MANIFEST).write_text(manifest.model_dump_json(indent=2) + "\n", encoding="utf-8")


def read_manifest(generation: Path) -> Manifest:
    """The generation's manifest, checked against its files; ZoomqaError when anything disagrees."""
    path = generation / MANIFEST
    try:
        manifest = Manifest.model_validate_json(path.read_bytes())
    except FileNotFoundError:
        raise ZoomqaError(
            f"the index at {generation.parent} has no manifest ({path}); {REBUILD_HINT}"
        ) from None
    except (ValidationError, ValueError, OSError):
        raise ZoomqaError(f"the index manifest {path} is corrupt; {REBUILD_HINT}") from None
    if manifest.format != FORMAT_VERSION:
        raise ZoomqaError(
            f"the index at {generation.parent} has format {manifest.format}, this zoomqa reads "
            f"format {FORMAT_VERSION}; {REBUILD_HINT}"
        )
    actual = file_sizes(generation)
    if actual != manifest.files:
        damaged = sorted(
            name
            for name in manifest.files.keys() | actual.keys()
            if actual.get(name) != manifest.files.get(name)
        )
        raise ZoomqaError(
            f"the index at {generation.parent} is damaged (files missing or truncated: "
            f"{', '.join(damaged)}); {REBUILD_HINT}"
        )
    return manifest
