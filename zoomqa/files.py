"""Writing the user's files safely: whole or not at all, with the permissions they expect.

Every file zoomqa writes for a person (FAQ pages, chat transcripts, enlarged pictures) is
written to a temporary file in the same folder and then moved into place, so a reader or a
crash never sees half a file. ``tempfile.mkstemp`` creates that file readable by its owner
only; the final file gets the mode any other program would give it (0666 less the umask).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def _read_umask() -> int:
    # os.umask can only be read by setting it; done once, at import, before any worker thread
    # could create a file in between.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


UMASK = _read_umask()
FILE_MODE = 0o666 & ~UMASK


def temporary_beside(path: Path) -> tuple[int, str]:
    """A new temporary file in ``path``'s folder, with the mode ``path`` should end up with."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.fchmod(handle, FILE_MODE)
    return handle, temporary


def write_text_atomic(path: Path, text: str, *, replace: bool = True) -> None:
    """Write ``text`` to ``path`` in one step. With ``replace=False`` an existing file is never
    replaced (FileExistsError, also when another process creates it meanwhile)."""
    handle, temporary = temporary_beside(path)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        if replace:
            os.replace(temporary, path)
        else:
            os.link(temporary, path)  # fails instead of replacing a file that exists
    finally:
        Path(temporary).unlink(missing_ok=True)
