"""Texts shipped as JSON Lines split over several files (``questions-0.jsonl``, ``questions-1.jsonl``...)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from zoomqa.errors import ZoomqaError


def jsonl_rows(directory: Path, pattern: str, what: str, item: str) -> Iterator[tuple[str, Any]]:
    """Each non-blank line of the files ``pattern`` matches in ``directory``, in file order, as
    (``file:line``, parsed JSON); a ZoomqaError when there is no such file (no ``what``) or a line
    is not JSON (not an ``item``)."""
    paths = sorted(Path(directory).glob(pattern))
    if not paths:
        raise ZoomqaError(f"no {what} ({pattern}) in {directory}")
    for path in paths:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if line.strip():
                try:
                    row = json.loads(line)
                except ValueError as exc:
                    raise ZoomqaError(f"{path.name}:{number}: not a {item} ({exc})") from None
                yield f"{path.name}:{number}", row
