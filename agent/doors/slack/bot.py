"""``zoomqa slack``: the agent as a Slack bot, over Socket Mode or HTTP.

A mention in a channel or a direct message is acknowledged at once and answered by a worker
in the message's thread: a placeholder appears, and is edited in place into the answer. A
thread is a conversation, so its earlier messages, read back from Slack, are the history
the agent condenses a follow-up with; the bot keeps no conversation state of its own. An
image attached to the message (or earlier in the thread) is downloaded into a temporary
folder that is the only place the upscaler may touch; the result and a side-by-side
comparison go back into the thread, and the folder is removed whatever happened.
"""

from __future__ import annotations

import logging
import re
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from slack_bolt import App, BoltResponse
from slack_bolt.error import BoltError
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler

from zoomqa.agent.compose.answer import Answer, Statement
from zoomqa.agent.doors.render import render_slack, render_slack_blocks, slack_escape
from zoomqa.agent.doors.slack.files import SlackImageFetcher
from zoomqa.agent.turn.enlarge_requests import parse_request
from zoomqa.agent.turn.history import Turn
from zoomqa.config import Settings, SlackSettings
from zoomqa.errors import ZoomqaError

if TYPE_CHECKING:
    from zoomqa.agent.turn.assistant import Reply, ToolCall

log = logging.getLogger("zoomqa.slack")

Transport = Literal["socket", "http"]
EVENTS_PATH = "/slack/events"
PLACEHOLDER = "_Looking through the papers…_"
REPLY_EVENT = "zoomqa_reply"  # message metadata naming the message a bot reply answers
WORDLESS_PICTURE = "enlarge this picture"  # what a picture sent without words asks for
HISTORY_TURNS = 20
RATE_LIMIT_RETRIES = 3
PROGRESS_INTERVAL_S = 2.0  # chat.update allows about one call a second per channel
_MENTION = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>")


class Respond(Protocol):
    """The agent behind the bot: one message, its thread's history, images saved in ``workdir``."""

    def __call__(
        self,
        message: str,
        *,
        history: Sequence[Turn],
        attachments: Sequence[Path],
        workdir: Path,
        on_progress: Callable[[int, int], None],
    ) -> Reply: ...


def agent_responder(settings: Settings, *, writer: str | None = None) -> Respond:
    """The agent, loaded once; for each message an assistant whose upscaler may use only that
    message's folder. An in-process model (the local writer) answers one message at a time."""
    from zoomqa.agent.turn.assistant import Assistant

    loaded = Assistant.from_settings(settings, writer=writer, allowed_dirs=[])
    for notice in loaded.notices():
        log.warning("%s", notice)
    one_at_a_time = threading.Lock() if loaded.writer_name == "local" else nullcontext()

    def respond(
        message: str,
        *,
        history: Sequence[Turn],
        attachments: Sequence[Path],
        workdir: Path,
        on_progress: Callable[[int, int], None],
    ) -> Reply:
        with one_at_a_time:
            return loaded.within(workdir).respond(
                message, history=history, attachments=attachments, on_progress=on_progress
            )

    return respond


def _plain(text: str) -> str:
    """A Slack message's text as a person wrote it: mentions removed, Slack's escapes undone."""
    text = _MENTION.sub(" ", text)
    return " ".join(text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&").split())


@dataclass(frozen=True)
class Incoming:
    """A message addressed to the bot, and the thread its answer belongs in."""

    channel: str
    ts: str
    thread_ts: str
    text: str
    files: tuple[dict[str, Any], ...] = ()

    @classmethod
    def from_event(cls, event: dict[str, Any]) -> Incoming:
        return cls(
            channel=event["channel"],
            ts=event["ts"],
            thread_ts=event.get("thread_ts") or event["ts"],
            text=_plain(event.get("text") or ""),
            files=tuple(event.get("files") or ()),
        )

    @property
    def in_thread(self) -> bool:
        return self.thread_ts != self.ts


@dataclass
class RecentEvents:
    """Events this process has taken on, kept for an hour: Slack's retries of them are dropped."""

    ttl_s: float = 3600.0
    _seen: OrderedDict[str, float] = field(default_factory=OrderedDict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def first_time(self, *keys: str) -> bool:
        """True when none of ``keys`` was seen within the TTL; remembers them all."""
        now = time.monotonic()
        with self._lock:
            while self._seen and next(iter(self._seen.values())) < now - self.ttl_s:
                self._seen.popitem(last=False)
            new = not any(key in self._seen for key in keys)
            for key in keys:
                self._seen[key] = now
                self._seen.move_to_end(key)
            return new


@dataclass(frozen=True)
class Thread:
    """What the thread before a message holds: the conversation, and the latest images shared."""

    history: tuple[Turn, ...] = ()
    files: tuple[dict[str, Any], ...] = ()


def _is_ours(message: dict[str, Any], bot_user_id: str | None, bot_id: str | None) -> bool:
    return bool(message.get("bot_id") and message.get("bot_id") == bot_id) or (
        bot_user_id is not None and message.get("user") == bot_user_id
    )


def _pictures_for(message: Incoming, thread: Thread) -> tuple[dict[str, Any], ...]:
    """The message's own files; else, when it asks for an enlargement ("now 4x"), the thread's latest."""
    if message.files or not thread.files:
        return message.files
    names = [Path(str(file.get("name") or "picture.png")).name for file in thread.files]
    return thread.files if parse_request(message.text, [Path(name) for name in names]) else ()


def _shown_names(answer: Answer, calls: Sequence[ToolCall]) -> Answer:
    """The tool report names local files; in Slack they are the files uploaded to the thread."""
    names = {
        path: Path(path).name for call in calls for path in (call.output_path, call.comparison_path) if path
    }

    def rename(statement: Statement) -> Statement:
        text = statement.text
        for path, name in names.items():
            text = text.replace(path, name)
        return statement.model_copy(update={"text": text})

    steps = tuple(
        step.model_copy(update={"statements": tuple(map(rename, step.statements))}) for step in answer.steps
    )
    return answer.model_copy(update={"task": tuple(map(rename, answer.task)), "steps": steps})


class SlackBot:
    """The listeners of the Bolt app, and the work each message sets off."""

    def __init__(self, respond: Respond, client: WebClient, *, max_file_bytes: int) -> None:
        self.respond = respond
        self.fetcher = SlackImageFetcher(client, max_bytes=max_file_bytes)
        self.recent = RecentEvents()

    def register(self, app: App) -> None:
        app.middleware(self.drop_repeats)
        app.event("app_mention")(self.on_mention)
        app.event("message")(self.on_direct_message)

    # Listeners -------------------------------------------------------------------------

    def drop_repeats(
        self, body: dict[str, Any], request: Any, client: WebClient, next: Callable[[], None]
    ) -> Any:
        """Acknowledge and drop an event already taken on, here or (for Slack's retries) elsewhere."""
        event = body.get("event") or {}
        keys = [f"event:{body['event_id']}"] if body.get("event_id") else []
        if event.get("channel") and event.get("ts"):
            keys.append(f"message:{event['channel']}:{event['ts']}")  # app_mention and message.im of one DM
        retry = int((request.headers.get("x-slack-retry-num") or ["0"])[0] or 0)  # Socket Mode sends "0"
        if keys and not self.recent.first_time(*keys):
            log.info("dropped a repeated event %s (retry %d)", keys[0], retry)
            return BoltResponse(status=200, body="")
        if retry > 0 and self._answered_elsewhere(client, event):
            log.info("dropped a retry of %s: the thread already has its answer", keys[0])
            return BoltResponse(status=200, body="")
        return next()

    def on_mention(self, event: dict[str, Any], client: WebClient, context: dict[str, Any]) -> None:
        self.answer(Incoming.from_event(event), client, context)

    def on_direct_message(self, event: dict[str, Any], client: WebClient, context: dict[str, Any]) -> None:
        if event.get("channel_type") != "im" or event.get("bot_id"):
            return
        if event.get("subtype") not in (None, "file_share"):  # edits, deletions, joins...
            return
        self.answer(Incoming.from_event(event), client, context)

    # The work --------------------------------------------------------------------------

    def answer(self, message: Incoming, client: WebClient, context: dict[str, Any]) -> None:
        """Placeholder, history, images, agent, answer: whatever fails becomes one short reply."""
        placeholder = self._post_placeholder(client, message)
        if placeholder is None:
            return
        progress = _Progress(client, message.channel, placeholder)
        try:
            thread = self._thread(client, message, context) if message.in_thread else Thread()
            with tempfile.TemporaryDirectory(prefix="zoomqa-slack-") as folder:
                workdir = Path(folder)
                fetched = self.fetcher.fetch(_pictures_for(message, thread), workdir)
                if not message.text and not fetched.paths:
                    raise ZoomqaError(
                        "ask me about image super-resolution, or attach a picture and say how big"
                    )
                reply = self.respond(
                    message.text or WORDLESS_PICTURE,
                    history=thread.history,
                    attachments=fetched.paths,
                    workdir=workdir,
                    on_progress=progress.show,
                )
                notes = [f"I could not use {line}" for line in fetched.refusals]
                self._deliver(client, message, placeholder, reply, notes)
        except ZoomqaError as exc:
            self._say_failure(client, message.channel, placeholder, f"Sorry, I could not answer that: {exc}")
        except SlackClientError as exc:
            log.warning("Slack call failed while answering: %s", _slack_reason(exc))
            self._say_failure(
                client,
                message.channel,
                placeholder,
                f"Sorry, Slack did not accept part of my answer ({_slack_reason(exc)}); please ask again.",
            )
        except Exception:
            log.exception("answering a Slack message failed")
            self._say_failure(
                client,
                message.channel,
                placeholder,
                "Sorry, something went wrong on my side; please ask again.",
            )

    def _post_placeholder(self, client: WebClient, message: Incoming) -> str | None:
        try:
            response = client.chat_postMessage(
                channel=message.channel,
                thread_ts=message.thread_ts,
                text=PLACEHOLDER,
                metadata={"event_type": REPLY_EVENT, "event_payload": {"reply_to": message.ts}},
            )
        except SlackClientError as exc:
            log.warning(
                "cannot post in %s, the message goes unanswered: %s", message.channel, _slack_reason(exc)
            )
            return None
        return str(response["ts"])

    def _thread(self, client: WebClient, message: Incoming, context: dict[str, Any]) -> Thread:
        """The thread before ``message``, from Slack: a restarted or second bot sees the same."""
        turns: list[Turn] = []
        files: tuple[dict[str, Any], ...] = ()
        bot_user_id, bot_id = context.get("bot_user_id"), context.get("bot_id")
        for page in client.conversations_replies(channel=message.channel, ts=message.thread_ts, limit=200):
            for item in page.get("messages") or []:
                if float(item["ts"]) >= float(message.ts):
                    continue
                if _is_ours(item, bot_user_id, bot_id):
                    if item.get("text") and item["text"] != PLACEHOLDER:
                        turns.append(Turn(role="assistant", text=item["text"]))
                    continue
                text = _plain(item.get("text") or "")
                if text:
                    turns.append(Turn(role="user", text=text))
                if item.get("files"):
                    files = tuple(item["files"])
        return Thread(tuple(turns[-HISTORY_TURNS:]), files)

    def _answered_elsewhere(self, client: WebClient, event: dict[str, Any]) -> bool:
        """Whether a bot reply in the thread names this message (our metadata), e.g. before a restart."""
        if not event.get("channel") or not event.get("ts"):
            return False
        try:
            replies = client.conversations_replies(
                channel=event["channel"],
                ts=event.get("thread_ts") or event["ts"],
                include_all_metadata=True,
                limit=200,
            )
        except SlackClientError:
            return False
        return any(
            (m.get("metadata") or {}).get("event_type") == REPLY_EVENT
            and (m["metadata"].get("event_payload") or {}).get("reply_to") == event["ts"]
            for m in replies.get("messages") or []
        )

    def _deliver(
        self, client: WebClient, message: Incoming, placeholder: str, reply: Reply, notes: list[str]
    ) -> None:
        """The answer in place of the placeholder, then the pictures the tool made below it.

        A failed upload is added to the answer as a note, so the answer itself stays.
        """
        answer = _shown_names(reply.answer, reply.tool_calls)
        client.chat_update(channel=message.channel, ts=placeholder, **_message(answer, notes))
        try:
            for call in reply.tool_calls:
                if call.ok and call.output_path:
                    client.files_upload_v2(
                        file_uploads=_uploads(call), channel=message.channel, thread_ts=message.thread_ts
                    )
        except SlackClientError as exc:
            log.warning("upload failed: %s", _slack_reason(exc))
            notes = [
                *notes,
                f"I could not upload the enlarged picture ({_slack_reason(exc)}); please ask again.",
            ]
            client.chat_update(channel=message.channel, ts=placeholder, **_message(answer, notes))

    def _say_failure(self, client: WebClient, channel: str, placeholder: str, text: str) -> None:
        try:
            client.chat_update(channel=channel, ts=placeholder, text=text, blocks=[])
        except SlackClientError as exc:
            log.warning("cannot tell the thread about the failure: %s", _slack_reason(exc))


def _message(answer: Answer, notes: Sequence[str]) -> dict[str, Any]:
    """``text`` (notifications, history) and ``blocks`` (what Slack shows) of an answer."""
    blocks, text = render_slack_blocks(answer), render_slack(answer)
    if notes:
        top = slack_escape("\n".join(notes))
        blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": top[:3000]}}, *blocks]
        text = f"{top}\n\n{text}"
    return {"text": text, "blocks": blocks}


def _uploads(call: ToolCall) -> list[dict[str, Any]]:
    """The enlarged picture and the comparison, as files_upload_v2 takes them."""
    size = "×".join(map(str, call.output_size)) if call.output_size else "enlarged"
    paths = [(call.output_path, f"LIIF, {size}"), (call.comparison_path, "bicubic and LIIF side by side")]
    return [{"file": path, "filename": Path(path).name, "title": title} for path, title in paths if path]


class _Progress:
    """Shows how far the upscaler is in the placeholder, at most one edit every few seconds."""

    def __init__(self, client: WebClient, channel: str, ts: str) -> None:
        self.client, self.channel, self.ts = client, channel, ts
        self.last = time.monotonic()

    def show(self, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self.last < PROGRESS_INTERVAL_S or not total:
            return
        self.last = now
        try:
            self.client.chat_update(
                channel=self.channel, ts=self.ts, text=f"_Enlarging your picture… {done * 100 // total}%_"
            )
        except SlackClientError as exc:
            log.info("progress not shown: %s", _slack_reason(exc))


def _slack_reason(exc: SlackClientError) -> str:
    if isinstance(exc, SlackApiError):
        return str(exc.response.get("error") or f"HTTP {exc.response.status_code}")
    return type(exc).__name__


# Start-up ----------------------------------------------------------------------------


def _secret(value: Any) -> str | None:
    return value.get_secret_value() if value is not None else None


def required_secrets(slack: SlackSettings, transport: Transport) -> dict[str, str]:
    """The tokens ``transport`` needs, or ZoomqaError naming every missing variable."""
    needed = {"SLACK_BOT_TOKEN": slack.bot_token}
    if transport == "socket":
        needed["SLACK_APP_TOKEN"] = slack.app_token
    else:
        needed["SLACK_SIGNING_SECRET"] = slack.signing_secret
    missing = [name for name, value in needed.items() if not _secret(value)]
    if missing:
        mode = "Socket Mode" if transport == "socket" else "HTTP"
        raise ZoomqaError(
            f"the Slack bot needs {' and '.join(missing)} for {mode} (see the README section 'Slack bot')"
        )
    return {name: str(_secret(value)) for name, value in needed.items()}


def web_client(slack: SlackSettings, token: str) -> WebClient:
    """The Web API client every call goes through: the configured base URL, 429 Retry-After honoured."""
    return WebClient(
        token=token,
        base_url=slack.api_url,
        retry_handlers=[
            ConnectionErrorRetryHandler(),
            RateLimitErrorRetryHandler(max_retry_count=RATE_LIMIT_RETRIES),
        ],
    )


def build_app(slack: SlackSettings, transport: Transport) -> App:
    """A Bolt app whose listeners run on a pool of ``slack.workers`` threads; the token is checked now."""
    secrets = required_secrets(slack, transport)
    client = web_client(slack, secrets["SLACK_BOT_TOKEN"])
    try:
        app = App(
            signing_secret=secrets.get("SLACK_SIGNING_SECRET", ""),
            client=client,
            request_verification_enabled=transport == "http",
            listener_executor=ThreadPoolExecutor(
                max_workers=slack.workers, thread_name_prefix="zoomqa-slack"
            ),
        )
    except BoltError as exc:  # auth.test refused the token
        cause = exc.__context__
        reason = _slack_reason(cause) if isinstance(cause, SlackClientError) else "auth.test failed"
        raise ZoomqaError(f"Slack at {slack.api_url} did not accept SLACK_BOT_TOKEN: {reason}") from None
    except OSError as exc:
        raise ZoomqaError(
            f"cannot reach Slack at {slack.api_url} ({exc}): check the network or api_url"
        ) from None
    return app


def serve(
    settings: Settings, transport: Transport, load_agent: Callable[[], Respond], *, host: str, port: int
) -> None:
    """Run until interrupted: Socket Mode connects out to Slack; HTTP serves ``/slack/events``.

    Slack is asked about the token before the agent loads, so a wrong token fails at once.
    """
    app = build_app(settings.slack, transport)
    SlackBot(load_agent(), app.client, max_file_bytes=settings.slack.max_file_bytes).register(app)
    if transport == "socket":
        from slack_bolt.adapter.socket_mode import SocketModeHandler

        app_token = required_secrets(settings.slack, transport)["SLACK_APP_TOKEN"]
        log.info("connecting to Slack over Socket Mode")
        SocketModeHandler(app, app_token).start()
        return
    import uvicorn
    from slack_bolt.adapter.asgi import SlackRequestHandler

    log.info("serving Slack events at http://%s:%d%s", host, port, EVENTS_PATH)
    uvicorn.run(SlackRequestHandler(app, path=EVENTS_PATH), host=host, port=port, log_level="warning")
