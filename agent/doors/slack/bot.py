"""``zoomqa slack``: the agent as a Slack bot, over Socket Mode or HTTP.

A mention in a channel, a direct message, or a reply in a thread the bot has answered in is
acknowledged at once and gets a placeholder in its thread straight away (with its place in the
queue when every worker is busy, or a one-line "busy" when the queue is full); a worker edits
it in place into the answer (``work.py`` keeps the queue, the timeout and the log line). A
thread is a conversation, so its earlier messages, read back from Slack, are the history the
agent condenses a follow-up with; the bot remembers only which threads it answered in. An
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

from slack_bolt import App, BoltRequest
from slack_bolt.error import BoltError
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler

from zoomqa.agent.compose.answer import Answer, Statement
from zoomqa.agent.doors.render import render_slack, render_slack_blocks, slack_escape
from zoomqa.agent.doors.slack.files import SlackImageFetcher
from zoomqa.agent.doors.slack.work import Abandoned, Job, PerPersonLimit, WorkQueue, new_ref, text_sha256
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
BUSY = "I am busy with other questions right now, so please try again in a minute."
REPLY_EVENT = "zoomqa_reply"  # message metadata naming the message a bot reply answers
WORDLESS_PICTURE = "enlarge this picture"  # what a picture sent without words asks for
HISTORY_TURNS = 20
RATE_LIMIT_RETRIES = 3
PROGRESS_INTERVAL_S = 2.0  # chat.update allows about one call a second per channel
LISTENER_THREADS = 4  # acknowledge, post the placeholder, queue: the answers run on the workers
REPLIED_THREADS_KEPT = 10_000  # threads answered without a mention: the latest the bot replied in
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
    user: str = ""
    text_sha256: str = ""  # of the text as Slack sent it, for the log line
    files: tuple[dict[str, Any], ...] = ()

    @classmethod
    def from_event(cls, event: dict[str, Any]) -> Incoming:
        return cls(
            channel=event["channel"],
            ts=event["ts"],
            thread_ts=event.get("thread_ts") or event["ts"],
            text=_plain(event.get("text") or ""),
            user=str(event.get("user") or ""),
            text_sha256=text_sha256(event.get("text") or ""),
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


@dataclass
class RepliedThreads:
    """The threads the bot has replied in, the latest ``size`` of them: people there need not
    mention it again. A restarted bot starts empty, so a mention brings it back."""

    size: int = REPLIED_THREADS_KEPT
    _threads: OrderedDict[tuple[str, str], None] = field(default_factory=OrderedDict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, channel: str, thread_ts: str) -> None:
        with self._lock:
            self._threads[(channel, thread_ts)] = None
            self._threads.move_to_end((channel, thread_ts))
            while len(self._threads) > self.size:
                self._threads.popitem(last=False)

    def __contains__(self, key: tuple[str, str]) -> bool:
        with self._lock:
            return key in self._threads


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

    def __init__(self, respond: Respond, client: WebClient, slack: SlackSettings) -> None:
        self.respond = respond
        self.fetcher = SlackImageFetcher(client, max_bytes=slack.max_file_bytes)
        self.recent = RecentEvents()
        self.replied = RepliedThreads()
        self.queue = WorkQueue(slack.workers, slack.queue_size)
        self.upscales = PerPersonLimit(slack.upscales_per_user)
        self.timeout_s = slack.job_timeout_s

    def register(self, app: App) -> None:
        app.event("app_mention")(self.on_mention)
        app.event("message")(self.on_message)

    # Listeners -------------------------------------------------------------------------

    def on_mention(
        self,
        body: dict[str, Any],
        event: dict[str, Any],
        request: BoltRequest,
        client: WebClient,
        context: dict[str, Any],
    ) -> None:
        self.take(body, event, request, client, context)

    def on_message(
        self,
        body: dict[str, Any],
        event: dict[str, Any],
        request: BoltRequest,
        client: WebClient,
        context: dict[str, Any],
    ) -> None:
        """A direct message, or a reply in a thread the bot answered in; not a person's edit,
        not a bot's message, and not a mention (Slack sends that as app_mention as well)."""
        bot_user = context.get("bot_user_id")
        if event.get("bot_id") or event.get("user") in (None, bot_user):
            return
        if event.get("subtype") not in (None, "file_share"):  # edits, deletions, joins...
            return
        if event.get("channel_type") != "im":
            if f"<@{bot_user}" in (event.get("text") or ""):
                return
            if not event.get("thread_ts") or (event["channel"], event["thread_ts"]) not in self.replied:
                return
        self.take(body, event, request, client, context)

    # The work --------------------------------------------------------------------------

    def take(
        self,
        body: dict[str, Any],
        event: dict[str, Any],
        request: BoltRequest,
        client: WebClient,
        context: dict[str, Any],
    ) -> None:
        """Queue a message for a worker, with a placeholder saying where it stands; or say at
        once that the bot is busy. An event already taken on is dropped."""
        if not self._first_time(body, event, request, client):
            return
        message = Incoming.from_event(event)
        job = Job(
            event_id=str(body.get("event_id") or ""),
            channel=message.channel,
            user=message.user,
            thread_ts=message.thread_ts,
            text_sha256=message.text_sha256,
        )
        place = self.queue.admit()
        if place is None:
            self._post(client, message, BUSY)
            job.record("busy")
            return
        placeholder = self._post(client, message, _queued(place) if place else PLACEHOLDER)
        if placeholder is None:
            self.queue.leave()
            job.record("error", new_ref())
            return
        job.position, job.placeholder = place, placeholder
        self.queue.run(lambda: self._work(job, message, client, context))

    def _work(self, job: Job, message: Incoming, client: WebClient, context: dict[str, Any]) -> None:
        """Answer on a worker, with the timeout running from now."""
        job.start()
        timer = threading.Timer(self.timeout_s, self._time_out, (job, client))
        timer.daemon = True
        timer.start()
        try:
            if job.position:
                _Placeholder(client, job).say(PLACEHOLDER)
            self.answer(job, message, client, context)
        finally:
            timer.cancel()

    def answer(self, job: Job, message: Incoming, client: WebClient, context: dict[str, Any]) -> None:
        """History, images, agent, answer: whatever fails becomes one short reply with a ref."""
        placeholder = _Placeholder(client, job)
        try:
            thread = self._thread(client, message, context) if message.in_thread else Thread()
            pictures = _pictures_for(message, thread)
            if pictures and not self.upscales.take(message.user):
                if job.finish():
                    placeholder.say(_enlarging_already(self.upscales.limit))
                    job.record("refused")
                return
            with tempfile.TemporaryDirectory(prefix="zoomqa-slack-") as folder:
                workdir = Path(folder)
                try:
                    fetched = self.fetcher.fetch(pictures, workdir)
                    if not message.text and not fetched.paths:
                        raise ZoomqaError(
                            "ask me about image super-resolution, or attach a picture and say how big"
                        )
                    reply = self.respond(
                        message.text or WORDLESS_PICTURE,
                        history=thread.history,
                        attachments=fetched.paths,
                        workdir=workdir,
                        on_progress=placeholder.show,
                    )
                finally:  # enlarged: the person may ask for the next one while this one is sent
                    if pictures:
                        self.upscales.give_back(message.user)
                if not job.finish():
                    return
                notes = [f"I could not use {line}" for line in fetched.refusals]
                self._deliver(client, message, job.placeholder, reply, notes)
                job.tool_s = sum(call.seconds or 0.0 for call in reply.tool_calls)
                job.record("answered" if reply.answer.relevant else "refused")
        except Abandoned:
            log.info("stopped the work on a message that ran past %g s", self.timeout_s)
        except ZoomqaError as exc:
            self._fail(client, job, f"Sorry, I could not answer that: {exc}", new_ref())
        except SlackClientError as exc:
            log.warning("Slack call failed while answering: %s", _slack_reason(exc))
            self._fail(
                client,
                job,
                f"Sorry, Slack did not accept part of my answer ({_slack_reason(exc)}); please ask again",
                new_ref(),
            )
        except Exception:
            ref = new_ref()
            log.exception("answering a Slack message failed (ref %s)", ref)
            self._fail(client, job, "Sorry, something went wrong on my side; please ask again", ref)

    def _time_out(self, job: Job, client: WebClient) -> None:
        """The timeout's reply, unless the worker has begun its own; the worker stops when it can."""
        if not job.time_out():
            return
        ref = new_ref()
        log.warning("abandoned a message after %g s (ref %s)", self.timeout_s, ref)
        _Placeholder(client, job).say(
            f"Sorry, I gave up on this after {self.timeout_s:g} s; please try again later (ref {ref})."
        )
        job.record("timeout", ref)

    def _fail(self, client: WebClient, job: Job, text: str, ref: str) -> None:
        if job.finish():
            _Placeholder(client, job).say(f"{text} (ref {ref}).")
            job.record("error", ref)

    def _post(self, client: WebClient, message: Incoming, text: str) -> str | None:
        """A reply in the message's thread, naming the message it answers; its ts, or None."""
        try:
            response = client.chat_postMessage(
                channel=message.channel,
                thread_ts=message.thread_ts,
                text=text,
                metadata={"event_type": REPLY_EVENT, "event_payload": {"reply_to": message.ts}},
            )
        except SlackClientError as exc:
            log.warning(
                "cannot post in %s, the message goes unanswered: %s", message.channel, _slack_reason(exc)
            )
            return None
        self.replied.add(message.channel, message.thread_ts)
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
                    if item.get("text") and not _is_status(item["text"]):
                        turns.append(Turn(role="assistant", text=item["text"]))
                    continue
                text = _plain(item.get("text") or "")
                if text:
                    turns.append(Turn(role="user", text=text))
                if item.get("files"):
                    files = tuple(item["files"])
        return Thread(tuple(turns[-HISTORY_TURNS:]), files)

    def _first_time(
        self, body: dict[str, Any], event: dict[str, Any], request: BoltRequest, client: WebClient
    ) -> bool:
        """False for an event already taken on, here or (for Slack's retries) by another instance."""
        keys = [f"event:{body['event_id']}"] if body.get("event_id") else []
        if event.get("channel") and event.get("ts"):
            keys.append(f"message:{event['channel']}:{event['ts']}")  # one message's app_mention and message
        retry = int((request.headers.get("x-slack-retry-num") or ["0"])[0] or 0)  # Socket Mode sends "0"
        if keys and not self.recent.first_time(*keys):
            log.info("dropped a repeated event %s (retry %d)", keys[0], retry)
            return False
        if retry > 0 and self._answered_elsewhere(client, event):
            log.info("dropped a retry of %s: the thread already has its answer", keys[0])
            return False
        return True

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


def _queued(place: int) -> str:
    """The placeholder of the ``place``-th message in the queue."""
    ahead = place - 1
    if not ahead:
        return "_Queued: yours is next._"
    return f"_Queued: {ahead} question{'s' if ahead > 1 else ''} ahead of yours._"


def _is_status(text: str) -> bool:
    """What the bot says of its own work (placeholders, busy), which is no turn of the conversation."""
    return text in (PLACEHOLDER, BUSY) or text.startswith(("_Queued:", "_Enlarging your picture"))


def _enlarging_already(limit: int) -> str:
    pictures, done = ("a picture", "it is") if limit == 1 else (f"{limit} pictures", "one is")
    return (
        f"You already have {pictures} being enlarged, as many as I take from one person at a time; "
        f"please ask again when {done} done."
    )


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


class _Placeholder:
    """A job's placeholder: what the bot is doing, then a short reply written in its place."""

    def __init__(self, client: WebClient, job: Job) -> None:
        self.client, self.job = client, job
        self.last = time.monotonic()
        self.enlarging_since: float | None = None

    def say(self, text: str) -> None:
        try:
            self.client.chat_update(channel=self.job.channel, ts=self.job.placeholder, text=text, blocks=[])
        except SlackClientError as exc:
            log.warning("cannot edit the placeholder in %s: %s", self.job.channel, _slack_reason(exc))

    def show(self, done: int, total: int) -> None:
        """How far the upscaler is, at most one edit every few seconds; called between two chunks,
        it is where a timed-out job stops (as Ctrl-C stops an enlargement in ``zoomqa chat``)."""
        if self.job.timed_out:
            raise Abandoned
        now = time.monotonic()
        if self.enlarging_since is None:
            self.enlarging_since = now
        if now - self.last < PROGRESS_INTERVAL_S or not total:
            return
        self.last = now
        left = (now - self.enlarging_since) * (total - done) / done if done else 0.0
        eta = f", about {left:.0f} s left" if left >= 1 else ""
        try:
            self.client.chat_update(
                channel=self.job.channel,
                ts=self.job.placeholder,
                text=f"_Enlarging your picture… {done * 100 // total}%{eta}_",
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


def quiet_start_up() -> None:
    """Silence what only alarms an admin at start: faiss's loader reporting every CPU-specific
    build it tries (a ModuleNotFoundError for each one not installed), and Bolt's warning that
    SLACK_BOT_TOKEN goes unused (the client it is given carries that token)."""
    from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped

    logging.getLogger("faiss.loader").setLevel(logging.WARNING)
    unused = warning_client_prioritized_and_token_skipped()
    logging.getLogger("slack_bolt.App").addFilter(lambda record: record.getMessage() != unused)


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
    """A Bolt app whose listeners (quick: they queue the work) run on a few threads; the token is checked now."""
    secrets = required_secrets(slack, transport)
    client = web_client(slack, secrets["SLACK_BOT_TOKEN"])
    try:
        app = App(
            signing_secret=secrets.get("SLACK_SIGNING_SECRET", ""),
            client=client,
            request_verification_enabled=transport == "http",
            listener_executor=ThreadPoolExecutor(
                max_workers=LISTENER_THREADS, thread_name_prefix="zoomqa-slack"
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
    slack = settings.slack
    app = build_app(slack, transport)
    SlackBot(load_agent(), app.client, slack).register(app)
    limits = f"{slack.workers} workers, {slack.queue_size} may wait, {slack.job_timeout_s:g} s per message"
    if transport == "socket":
        from slack_bolt.adapter.socket_mode import SocketModeHandler

        SocketModeHandler(app, required_secrets(slack, transport)["SLACK_APP_TOKEN"]).connect()
        log.info("ready: connected to Slack over Socket Mode (%s)", limits)
        threading.Event().wait()
        return
    import uvicorn
    from slack_bolt.adapter.asgi import SlackRequestHandler

    log.info("ready: serving Slack events at http://%s:%d%s (%s)", host, port, EVENTS_PATH, limits)
    uvicorn.run(SlackRequestHandler(app, path=EVENTS_PATH), host=host, port=port, log_level="warning")
