"""Images attached to Slack messages, fetched into a folder the upscaler may use.

Everything about a file comes from a message, so nothing is trusted: its size is checked
(from ``files.info``, then again while reading) before it can fill the disk, its type is told
by its bytes rather than its name, it is saved under a name we choose, and the bot token is
sent only to Slack's file host or the configured Web API host.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from PIL import Image, UnidentifiedImageError
from slack_sdk import WebClient

from zoomqa.tools.images import FIRST_FRAME_FORMATS, INPUT_FORMATS, INPUT_SUFFIXES

SLACK_FILE_HOST = "https://files.slack.com"
# The usual suffix of each format: the first one the upscaler lists for it (".jpg" for JPEG).
EXTENSIONS = {fmt: suffix for suffix, fmt in reversed(INPUT_SUFFIXES.items())}
READ_FORMATS = (*INPUT_FORMATS, *FIRST_FRAME_FORMATS)
_UNSAFE = re.compile(r"[^\w-]+")
_CHUNK = 1 << 16


@dataclass(frozen=True)
class FetchedImages:
    """The images saved for the upscaler, and one line per file that was refused."""

    paths: tuple[Path, ...]
    refusals: tuple[str, ...]


class _Refused(Exception):
    """A file that cannot be used; the message is shown to the person in the thread."""


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _safe_stem(name: str, file_id: str) -> str:
    stem = _UNSAFE.sub("_", Path(name).stem).strip("_")[:60]
    return stem or file_id


def _megabytes(size: int) -> str:
    return f"{size / 1e6:.3g} MB"


class SlackImageFetcher:
    """Downloads a message's files with the bot token, keeping to the limits above."""

    def __init__(self, client: WebClient, *, max_bytes: int, timeout_s: float = 30.0) -> None:
        self.client = client
        self.max_bytes = max_bytes
        self.timeout_s = timeout_s
        self.trusted_origins = {SLACK_FILE_HOST, _origin(client.base_url)}

    def fetch(self, files: Sequence[dict[str, Any]], folder: Path) -> FetchedImages:
        """Save every usable image of ``files`` (Slack file objects) into ``folder``."""
        paths: list[Path] = []
        refusals: list[str] = []
        for file in files:
            name = str(file.get("name") or file.get("id") or "a file")
            try:
                if not file.get("id"):
                    raise _Refused("Slack sent no file id")
                paths.append(self._fetch_one(str(file["id"]), folder, taken={p.stem for p in paths}))
            except _Refused as exc:
                refusals.append(f"{name}: {exc}")
        return FetchedImages(tuple(paths), tuple(refusals))

    def _fetch_one(self, file_id: str, folder: Path, taken: set[str]) -> Path:
        info = self.client.files_info(file=file_id)["file"]
        size = int(info.get("size") or 0)
        if size > self.max_bytes:
            limit = _megabytes(self.max_bytes)
            raise _Refused(f"{_megabytes(size)} is above the {limit} limit, so it was not downloaded")
        url = info.get("url_private_download") or info.get("url_private")
        if not url or _origin(url) not in self.trusted_origins:
            raise _Refused("Slack gave no download address the bot may use")
        stem = _safe_stem(str(info.get("name") or file_id), file_id)
        stem = f"{stem}-{file_id}" if stem in taken else stem
        download = folder / f"{stem}.download"
        self._download(url, download)
        try:
            with Image.open(download, formats=READ_FORMATS) as image:
                fmt = image.format or ""
        except (UnidentifiedImageError, Image.DecompressionBombError, OSError):
            download.unlink()
            raise _Refused(f"it is not an image the upscaler reads ({', '.join(READ_FORMATS)})") from None
        return download.rename(folder / f"{stem}{EXTENSIONS.get(fmt, '')}")

    def _download(self, url: str, target: Path) -> None:
        try:
            self._stream(url, target)
        except httpx.HTTPError as exc:
            target.unlink(missing_ok=True)
            raise _Refused(f"the download failed ({type(exc).__name__})") from None
        except _Refused:
            target.unlink(missing_ok=True)
            raise

    def _stream(self, url: str, target: Path) -> None:
        headers = {"Authorization": f"Bearer {self.client.token}"}
        with httpx.stream("GET", url, headers=headers, timeout=self.timeout_s) as response:
            if response.status_code != 200:
                raise _Refused(f"Slack answered HTTP {response.status_code} to the download")
            declared = int(response.headers.get("content-length") or 0)
            if declared > self.max_bytes:
                raise _Refused(f"{_megabytes(declared)} is above the {_megabytes(self.max_bytes)} limit")
            written = 0
            with target.open("wb") as out:
                for chunk in response.iter_bytes(_CHUNK):
                    written += len(chunk)
                    if written > self.max_bytes:
                        raise _Refused(f"it is larger than the {_megabytes(self.max_bytes)} limit")
                    out.write(chunk)
