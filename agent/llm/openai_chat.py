"""The chat model for any OpenAI-compatible endpoint (OpenAI, vLLM, Ollama, llama.cpp server).

The openai client retries 429, 5xx, timeouts and dropped connections with exponential
backoff (``max_retries``); what is still failing afterwards becomes one :class:`ZoomqaError`
that says what to do. The API key is passed to the client only, never into a message.
"""

from __future__ import annotations

from typing import Any

from zoomqa.errors import ZoomqaError

OPENAI_URL = "https://api.openai.com/v1"
KEYLESS_PLACEHOLDER = "not-needed"  # local servers ignore the key, but the client requires one


def make_openai_chat_model(
    *,
    model: str,
    base_url: str | None,
    api_key: str | None,
    timeout_s: float,
    max_retries: int,
    max_tokens: int,
    temperature: float,
) -> Any:
    """A streaming ``ChatOpenAI``; without ``base_url`` it talks to OpenAI and needs a key."""
    from langchain_openai import ChatOpenAI

    if not api_key and base_url is None:
        raise ZoomqaError(
            "the openai writer needs an API key: set OPENAI_API_KEY, or set OPENAI_BASE_URL to a "
            "local OpenAI-compatible server (or use --writer extractive)"
        )
    return ChatOpenAI(
        model=model,
        base_url=base_url,
        api_key=api_key or KEYLESS_PLACEHOLDER,
        timeout=timeout_s,
        max_retries=max_retries,
        max_tokens=max_tokens,
        temperature=temperature,
        streaming=True,
        # Servers such as llama.cpp ignore the newer ``max_completion_tokens``; send the old name too.
        extra_body={"max_tokens": max_tokens} if base_url else None,
    )


def explain_openai_error(exc: Exception, *, model: str, base_url: str | None) -> ZoomqaError | None:
    """The user-facing error for a failure of the openai client, or None if ``exc`` is not one."""
    import openai

    where = base_url or OPENAI_URL
    if isinstance(exc, openai.AuthenticationError):
        return ZoomqaError(f"{where} rejected the API key (HTTP 401): check OPENAI_API_KEY")
    if isinstance(exc, openai.PermissionDeniedError):
        return ZoomqaError(
            f"{where} refused access to model {model!r} (HTTP 403): check the key's permissions"
        )
    if isinstance(exc, openai.NotFoundError):
        return ZoomqaError(
            f"{where} has no model {model!r} or no such endpoint (HTTP 404): set --model or "
            "ZOOMQA_ANSWER__OPENAI_MODEL to a model the server serves, and check that OPENAI_BASE_URL "
            "ends in /v1"
        )
    if isinstance(exc, openai.RateLimitError):
        return ZoomqaError(f"{where} is still rate-limiting after the retries (HTTP 429): wait and try again")
    if isinstance(exc, openai.APITimeoutError):
        return ZoomqaError(
            f"{where} did not answer in time: raise ZOOMQA_ANSWER__TIMEOUT_S or check the server's load"
        )
    if isinstance(exc, openai.APIConnectionError):
        return ZoomqaError(f"cannot reach {where}: is the server running and OPENAI_BASE_URL right?")
    if isinstance(exc, openai.APIStatusError):
        return ZoomqaError(f"{where} answered HTTP {exc.status_code} for model {model!r}: try again later")
    if isinstance(exc, openai.APIError | ValueError):
        return ZoomqaError(
            f"{where} sent a reply zoomqa cannot read ({type(exc).__name__}): is it OpenAI-compatible?"
        )
    return None
