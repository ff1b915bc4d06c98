"""Fixtures shared by every test: an isolated zoomqa home, and the ../shared data folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from zoomqa.config import get_settings

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No test reads or writes the user's real data directory or config file."""
    home = tmp_path_factory.mktemp("zoomqa-home")
    monkeypatch.setenv("ZOOMQA_HOME", str(home))
    monkeypatch.setenv("ZOOMQA_CONFIG", str(home / "no-config.toml"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "SLACK_BOT_TOKEN", "SLACK_APP_TOKEN"):
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
