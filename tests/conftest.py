"""Fixtures shared by every test: an isolated zoomqa home, and the ../shared data folder."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest
from PIL import Image

from zoomqa.config import get_settings
from zoomqa.index.embedding import Embedder, load_embedder
from zoomqa.index.metadata import Entry
from zoomqa.index.records import read_bundled_corpus
from zoomqa.index.store import BUNDLED_SOURCE, IndexStore

if TYPE_CHECKING:
    from slack_standin import SlackStandIn

REPO = Path(__file__).resolve().parents[1]
# The user's own keys, tokens and endpoints never reach a test.
USER_VARIABLES = (
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "SLACK_BOT_TOKEN",
    "SLACK_APP_TOKEN",
    "SLACK_SIGNING_SECRET",
    "ZOOMQA_SLACK_API_URL",
)


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No test reads or writes the user's real data directory or config file."""
    home = tmp_path_factory.mktemp("zoomqa-home")
    monkeypatch.setenv("ZOOMQA_HOME", str(home))
    monkeypatch.setenv("ZOOMQA_CONFIG", str(home / "no-config.toml"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    for name in USER_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    yield home
    get_settings.cache_clear()


def _shared_dir() -> Path:
    configured = os.environ.get("ZOOMQA_SHARED")
    return Path(configured) if configured else REPO.parent / "shared"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The shared data folder (ZOOMQA_SHARED, else ../shared beside the checkout)."""
    path = _shared_dir()
    if not path.is_dir():
        pytest.skip(f"shared data folder not found at {path} (set ZOOMQA_SHARED to its location)")
    return path


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The bundled MiniLM, loaded once: every test that embeds shares it."""
    return load_embedder()


@pytest.fixture(scope="session")
def bundled_home(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Path:
    """A zoomqa home holding the bundled index, built once; tests read it and copy before writing."""
    home = tmp_path_factory.mktemp("bundled-home")
    IndexStore(home / "index").upsert([Entry.of(r, BUNDLED_SOURCE) for r in read_bundled_corpus()], embedder)
    return home


@pytest.fixture
def indexed_home(bundled_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """ZOOMQA_HOME pointed at the bundled index, for commands that search or answer."""
    monkeypatch.setenv("ZOOMQA_HOME", str(bundled_home))
    get_settings.cache_clear()
    return bundled_home


@pytest.fixture(scope="session")
def edsr_checkpoint(shared_dir: Path) -> Path:
    """The authors' checkpoint format with random weights (EDSR-baseline encoder)."""
    return shared_dir / "liif-conformance" / "edsr-baseline-liif-random.pth"


@pytest.fixture()
def photo_dir(tmp_path: Path) -> Path:
    """Six small smooth photos to train on (every 3rd or 20th is held out)."""
    folder = tmp_path / "photos"
    folder.mkdir()
    rng = np.random.default_rng(1)
    for i in range(6):
        small = rng.integers(0, 255, (12, 16, 3), dtype=np.uint8)
        Image.fromarray(small).resize((80, 64), Image.BICUBIC).save(folder / f"{i:02d}.png")
    return folder


@pytest.fixture(scope="module")
def standin() -> Iterator[SlackStandIn]:
    """A local stand-in for Slack's Web API, one per test module that talks to Slack."""
    from slack_standin import SlackStandIn

    server = SlackStandIn().start()
    yield server
    server.stop()
