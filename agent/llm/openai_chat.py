"""The chat model for any OpenAI-compatible endpoint (OpenAI, vLLM, Ollama, llama.cpp server).

Every call goes through :meth:`OpenAIEndpoint.stream`, which bounds it: at most
:data:`MAX_RETRIES` retries of a 429, 408/409, 5xx or failed connection, with a short backoff,
and only before the first token (a retry must not repeat what was already shown); and a
deadline to the last token, which also cuts a server that trickles tokens forever. The
deadline is the turn's: a writer that follows a planning call has what planning left. What still
fails becomes one line: :class:`ModelUnavailable` when the server failed (the caller answers
offline), a plain :class:`ZoomqaError` carrying the server's own message when it refused the
request. The API key goes to the client only, and is removed from any message a server echoes.
"""

from __future__ import annotations

import importlib
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from zoomqa.agent.llm.deadline import DeadlinePassed, until
from zoomqa.agent.llm.failures import ModelUnavailable
from zoomqa.errors import ZoomqaError

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel
    from langchain_core.messages import AIMessageChunk, BaseMessage
    from langchain_core.runnables import Runnable

OPENAI_URL = "https://api.openai.com/v1"
KEYLESS_PLACEHOLDER = "not-needed"  # local servers ignore the key, but the client requires one
MAX_RETRIES = 2
BACKOFF_S = (0.5, 1.0)  # before the first and the second retry
MAX_PAUSE_S = 2.0  # a longer Retry-After is not waited for: the offline answer comes sooner
MAX_MESSAGE_CHARS = 300
KEY_REMOVED = "***"
_KEY_LIKE = re.compile(r"\b(sk|pk|xox[a-z])-[\w*.-]{6,}")
_RETRY_STATUS = frozenset({408, 409, 429})


def make_openai_chat_model(
    *,
    model: str,
    base_url: str | None,
    api_key: str | None,
    timeout_s: float,
    max_tokens: int,
    temperature: float,
) -> Any:
    """A streaming ``ChatOpenAI`` that does not retry by itself (:class:`OpenAIEndpoint` does);
    without ``base_url`` it talks to OpenAI and needs a key."""
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
        max_retries=0,
        max_tokens=max_tokens,
        temperature=temperature,
        streaming=True,
        # Servers such as llama.cpp ignore the newer ``max_completion_tokens``; send the old name too.
        extra_body={"max_tokens": max_tokens} if base_url else None,
    )


def _transport_errors() -> tuple[type[BaseException], ...]:
    """httpx's errors for a connection that breaks while a stream is read (the openai client
    wraps only those before the reply starts); openai uses httpx2 or httpx by version."""
    found: list[type[BaseException]] = []
    for name in ("httpx2", "httpx"):
        try:
            found.append(importlib.import_module(name).TransportError)
        except (ImportError, AttributeError):
            continue
    return tuple(found)


def one_line(text: str, secrets: Sequence[str] = ()) -> str:
    """A server's text made safe to print on one line: no control characters, no key, not too
    long, and its square brackets made round (the CLI prints errors as rich markup, where
    "[/INST]" would be a tag)."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, KEY_REMOVED)
    text = _KEY_LIKE.sub(KEY_REMOVED, text).replace("[", "(").replace("]", ")")
    text = " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())
    return text if len(text) <= MAX_MESSAGE_CHARS else text[: MAX_MESSAGE_CHARS - 1].rstrip() + "…"


def server_message(exc: Exception) -> str:
    """The message of an error reply: ``error.message`` of OpenAI's JSON body, ``detail`` or
    ``error`` of others, else the start of the body as text."""
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        for key in ("message", "detail", "error", "msg"):
            value = body.get(key)
            if isinstance(value, str) and value.strip():
                return value
            if isinstance(value, dict) and isinstance(value.get("message"), str):
                return value["message"]
        return ""
    if isinstance(body, str):
        return re.sub(r"<[^>]*>", " ", body)  # an HTML error page: its words only
    return ""


def _retry_after(exc: Exception) -> float | None:
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None) or {}
    try:
        if "retry-after-ms" in headers:
            return float(headers["retry-after-ms"]) / 1000
        if "retry-after" in headers:
            return float(headers["retry-after"])
    except ValueError:  # an HTTP date: not worth parsing for a wait of at most 2 s
        return None
    return None


@dataclass(frozen=True)
class OpenAIEndpoint:
    """A model on an OpenAI-compatible server, and the bounds of every call made to it."""

    model: str
    base_url: str | None
    deadline_s: float
    timeout_s: float
    retries: int = MAX_RETRIES
    secrets: tuple[str, ...] = field(default=(), repr=False)  # removed from any message shown
    spent_s: float = 0.0  # of deadline_s, already used this turn (by the planning call)

    @property
    def where(self) -> str:
        return self.base_url or OPENAI_URL

    def stream(
        self, chat_model: BaseChatModel | Runnable[Any, Any], messages: list[BaseMessage]
    ) -> Iterator[AIMessageChunk]:
        """The reply's chunks as they come; raises :class:`ModelUnavailable` or
        :class:`ZoomqaError` (see the module) when the call fails or outlives the deadline."""
        deadline = time.monotonic() + self.deadline_s - self.spent_s
        tries = min(self.retries, MAX_RETRIES) + 1
        for attempt in range(1, tries + 1):
            started = False
            try:
                for chunk in until(deadline, lambda: chat_model.stream(messages)):
                    started = True
                    yield chunk
                return
            except DeadlinePassed:
                raise ModelUnavailable(
                    f"The model had not finished after {self.deadline_s:g} s, the deadline "
                    "(answer.deadline_s, ZOOMQA_ANSWER__DEADLINE_S)"
                ) from None
            except Exception as exc:
                pause = None if started or attempt == tries else self._pause(exc, attempt)
                if pause is None or time.monotonic() + pause >= deadline:
                    explained = self.explain(exc, tries=attempt, midway=started)
                    if explained is None:
                        raise
                    raise explained from None
                time.sleep(pause)

    def _pause(self, exc: Exception, attempt: int) -> float | None:
        """How long to wait before retrying after ``exc``; None when it is not worth a retry."""
        import openai

        status = getattr(exc, "status_code", None)
        transient = isinstance(exc, openai.APIConnectionError) or (
            isinstance(exc, openai.APIStatusError) and (status in _RETRY_STATUS or (status or 0) >= 500)
        )
        if not transient:
            return None
        asked = _retry_after(exc)
        wait = BACKOFF_S[min(attempt, len(BACKOFF_S)) - 1] if asked is None or asked < 0 else asked
        return min(wait, MAX_PAUSE_S)

    def explain(self, exc: Exception, *, tries: int = 1, midway: bool = False) -> ZoomqaError | None:
        """The one-line error for a failure of the client, or None if ``exc`` is not one;
        ``midway``: the reply had begun."""
        import openai

        where, model = self.where, self.model
        said = one_line(server_message(exc), self.secrets)
        quoted = f"; the server said: {said}" if said else ""
        after = f" after {tries} tries" if tries > 1 else ""
        lost = isinstance(exc, openai.APIConnectionError) or isinstance(exc, _transport_errors())
        if midway and lost:
            return ModelUnavailable(f"The model server at {where} broke off its reply ({type(exc).__name__})")
        if isinstance(exc, openai.APITimeoutError):
            return ModelUnavailable(
                f"The model server at {where} did not answer within {self.timeout_s:g} s{after}"
            )
        if lost:
            return ModelUnavailable(
                f"Cannot reach the model server at {where}{after} (is it running, and is OPENAI_BASE_URL right?)"
            )
        if isinstance(exc, openai.APIStatusError):
            code = exc.status_code
            if code >= 500:
                return ModelUnavailable(
                    f"The model server failed (HTTP {code}{': ' + said if said else ''}){after}"
                )
            if code in _RETRY_STATUS:
                return ModelUnavailable(f"The model server is busy (HTTP {code}{after}){quoted}")
            if isinstance(exc, openai.AuthenticationError):
                return ZoomqaError(f"{where} rejected the API key (HTTP 401): check OPENAI_API_KEY{quoted}")
            if isinstance(exc, openai.PermissionDeniedError):
                return ZoomqaError(
                    f"{where} refused access to model {model!r} (HTTP 403): check the key's permissions{quoted}"
                )
            if isinstance(exc, openai.NotFoundError):
                return ZoomqaError(
                    f"{where} has no model {model!r} or no such endpoint (HTTP 404): set --model or "
                    "ZOOMQA_ANSWER__OPENAI_MODEL to a model the server serves, and check that "
                    f"OPENAI_BASE_URL ends in /v1{quoted}"
                )
            return ZoomqaError(
                f"{where} refused the request for model {model!r} (HTTP {code}): {said or 'no reason given'}"
            )
        if isinstance(exc, openai.APIError | ValueError | KeyError | TypeError | IndexError):
            # what the client could not parse (the client's own code has no other data to fail on)
            return ModelUnavailable(
                f"The model server at {where} sent a reply zoomqa cannot read ({type(exc).__name__}): "
                "is it OpenAI-compatible?"
            )
        return None
