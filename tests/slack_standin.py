"""A stand-in for Slack on 127.0.0.1: the Web API methods the bot calls, file downloads and uploads,
and Socket Mode's WebSocket, recording every call so tests can read the conversation back; and
the bot itself, started as a real ``zoomqa slack`` process pointed at the stand-in.

It keeps channels and threads as Slack does (a reply carries its parent's ``thread_ts``), so the
bot's ``conversations.replies`` reads what the test posted as a user and what the bot wrote.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import itertools
import json
import os
import queue
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from PIL import Image

BOT_TOKEN = "xoxb-standin-bot-token-0123456789"
APP_TOKEN = "xapp-standin-app-token-0123456789"
SIGNING_SECRET = "standin-signing-secret-0123456789"
BOT_USER, BOT_ID, TEAM = "UZOOMQA", "BZOOMQA", "TSTANDIN"
HUMAN = "UHUMAN1"
REPO = Path(__file__).resolve().parents[1]
MAX_FILE_BYTES = 60_000  # the bots' download limit in these tests


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    authorized: bool
    at: float


@dataclass
class StoredFile:
    id: str
    name: str
    content: bytes
    claimed_size: int | None = None  # what files.info says, when a test wants it to lie
    send_length: bool = True  # False: the download has no Content-Length, only an end
    url: str | None = None  # where files.info says it is, when a test sends the bot elsewhere


@dataclass
class SlackStandIn:
    """The Web API at ``api_url``; ``calls`` in order; messages by channel."""

    calls: list[Call] = field(default_factory=list)
    messages: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    files: dict[str, StoredFile] = field(default_factory=dict)
    uploads: dict[str, bytes] = field(default_factory=dict)
    downloads: list[tuple[str, bool]] = field(default_factory=list)  # (file id, bearer token sent)
    socket_url: str | None = None
    _failures: dict[str, list[tuple[int, dict[str, Any], dict[str, str]]]] = field(default_factory=dict)
    _holds: dict[tuple[str, str], threading.Event] = field(default_factory=dict)
    _clock: itertools.count = field(default_factory=lambda: itertools.count(1))
    _lock: threading.RLock = field(default_factory=threading.RLock)

    def start(self) -> SlackStandIn:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                standin._handle(self)

            def do_POST(self) -> None:
                standin._handle(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def api_url(self) -> str:
        return f"{self.base}/api/"

    # What a test does as Slack or as a person ----------------------------------------

    def next_ts(self) -> str:
        return f"{int(time.time())}.{next(self._clock):06d}"

    def fail_next(
        self, method: str, *, status: int = 200, error: str = "internal_error", headers=None
    ) -> None:
        """The next call of ``method`` fails: an ``ok: false`` body, or an HTTP status (429...)."""
        with self._lock:
            body = {"ok": False, "error": error}
            self._failures.setdefault(method, []).append((status, body, dict(headers or {})))

    def hold(self, method: str, channel: str) -> threading.Event:
        """Calls of ``method`` about ``channel`` wait until the returned event is set: a worker
        reading that channel's threads stays busy until the test lets it go."""
        gate = threading.Event()
        with self._lock:
            self._holds[(method, channel)] = gate
        return gate

    def add_file(
        self,
        file_id: str,
        name: str,
        content: bytes,
        *,
        claimed_size: int | None = None,
        send_length: bool = True,
        url: str | None = None,
    ) -> dict[str, Any]:
        """A file a person shared; returns the file object as it appears in a message event."""
        self.files[file_id] = StoredFile(file_id, name, content, claimed_size, send_length, url)
        return {"id": file_id, "name": name, "mode": "hosted"}

    def user_message(
        self,
        channel: str,
        text: str,
        *,
        thread_ts: str | None = None,
        files: list[dict[str, Any]] | None = None,
        user: str = HUMAN,
    ) -> dict[str, Any]:
        """Store a person's message in ``channel`` and return it as an event's ``event`` field."""
        message = {"type": "message", "user": user, "text": text, "ts": self.next_ts(), "channel": channel}
        if thread_ts:
            message["thread_ts"] = thread_ts
        if files:
            message["files"] = files
        with self._lock:
            self.messages.setdefault(channel, []).append(message)
        return dict(message)

    def bot_message(
        self, channel: str, text: str, *, thread_ts: str, metadata: dict[str, Any] | None = None
    ) -> str:
        """A reply the bot wrote earlier (e.g. another instance of it), for the thread's history."""
        message = {
            "type": "message",
            "user": BOT_USER,
            "bot_id": BOT_ID,
            "text": text,
            "ts": self.next_ts(),
            "thread_ts": thread_ts,
            "channel": channel,
        }
        if metadata:
            message["metadata"] = metadata
        with self._lock:
            self.messages.setdefault(channel, []).append(message)
        return message["ts"]

    def thread(self, channel: str, thread_ts: str) -> list[dict[str, Any]]:
        with self._lock:
            return [
                dict(m)
                for m in self.messages.get(channel, [])
                if m["ts"] == thread_ts or m.get("thread_ts") == thread_ts
            ]

    def calls_of(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def wait_for(self, predicate, timeout: float = 60.0, what: str = "the bot") -> Any:
        """Poll until ``predicate()`` is truthy; fail the test with ``what`` on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.05)
        raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")

    # The HTTP side ------------------------------------------------------------------

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        url = urlsplit(request.path)
        length = int(request.headers.get("Content-Length") or 0)
        raw = request.rfile.read(length) if length else b""
        authorized = request.headers.get("Authorization") in (f"Bearer {BOT_TOKEN}", f"Bearer {APP_TOKEN}")
        if url.path.startswith("/files/"):
            return self._download(request, url.path.split("/")[2], authorized)
        if url.path.startswith("/upload/"):
            with self._lock:
                self.uploads[url.path.split("/")[2]] = raw
            return _send(request, 200, b"OK - " + str(len(raw)).encode(), "text/plain")
        method = url.path.removeprefix("/api/")
        params: dict[str, Any] = dict(parse_qsl(url.query))
        if raw and "json" in (request.headers.get("Content-Type") or ""):
            params.update(json.loads(raw))
        elif raw:
            params.update(parse_qsl(raw.decode()))
        with self._lock:
            self.calls.append(Call(method, params, authorized, time.monotonic()))
            failure = self._failures.get(method, []).pop(0) if self._failures.get(method) else None
            gate = self._holds.get((method, str(params.get("channel"))))
        if gate is not None:
            gate.wait(timeout=60)
        if failure:
            status, body, headers = failure
            return _send(request, status, json.dumps(body).encode(), "application/json", headers)
        if not authorized:
            return _json(request, {"ok": False, "error": "invalid_auth"})
        handler = getattr(self, "_" + method.replace(".", "_"), None)
        if handler is None:
            return _json(request, {"ok": False, "error": "unknown_method"})
        with self._lock:
            return _json(request, handler(params))

    def _download(self, request: BaseHTTPRequestHandler, file_id: str, authorized: bool) -> None:
        self.downloads.append((file_id, authorized))
        stored = self.files.get(file_id)
        if stored is None or not authorized:
            return _send(request, 404 if stored is None else 302, b"<html>sign in</html>", "text/html")
        _send(request, 200, stored.content, "application/octet-stream", length=stored.send_length)

    # Web API methods (called under the lock) -----------------------------------------

    def _auth_test(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": f"{self.base}/",
            "team": "Stand-in",
            "user": "zoomqa",
            "team_id": TEAM,
            "user_id": BOT_USER,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _apps_connections_open(self, params: dict[str, Any]) -> dict[str, Any]:
        return (
            {"ok": True, "url": self.socket_url} if self.socket_url else {"ok": False, "error": "not_allowed"}
        )

    def _chat_postMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = params["channel"]
        message = {
            "type": "message",
            "user": BOT_USER,
            "bot_id": BOT_ID,
            "text": params.get("text", ""),
            "ts": self.next_ts(),
            "channel": channel,
        }
        if params.get("thread_ts"):
            message["thread_ts"] = params["thread_ts"]
        metadata = params.get("metadata")
        if metadata:
            message["metadata"] = json.loads(metadata) if isinstance(metadata, str) else metadata
        self.messages.setdefault(channel, []).append(message)
        return {"ok": True, "channel": channel, "ts": message["ts"], "message": message}

    def _chat_update(self, params: dict[str, Any]) -> dict[str, Any]:
        for message in self.messages.get(params["channel"], []):
            if message["ts"] == params["ts"]:
                message["text"] = params.get("text", "")
                if "blocks" in params:
                    message["blocks"] = params["blocks"]
                else:
                    message.pop("blocks", None)
                return {"ok": True, "channel": params["channel"], "ts": params["ts"], "text": message["text"]}
        return {"ok": False, "error": "message_not_found"}

    def _conversations_replies(self, params: dict[str, Any]) -> dict[str, Any]:
        thread = self.thread(params["channel"], params["ts"])
        if not thread:
            return {"ok": False, "error": "thread_not_found"}
        if str(params.get("include_all_metadata")) not in ("1", "true", "True"):
            thread = [{k: v for k, v in m.items() if k != "metadata"} for m in thread]
        return {"ok": True, "messages": thread, "has_more": False, "response_metadata": {"next_cursor": ""}}

    def _files_info(self, params: dict[str, Any]) -> dict[str, Any]:
        stored = self.files.get(params["file"])
        if stored is None:
            return {"ok": False, "error": "file_not_found"}
        size = stored.claimed_size if stored.claimed_size is not None else len(stored.content)
        return {
            "ok": True,
            "file": {
                "id": stored.id,
                "name": stored.name,
                "size": size,
                "url_private": stored.url or f"{self.base}/files/{stored.id}/{stored.name}",
                "url_private_download": stored.url or f"{self.base}/files/{stored.id}/download/{stored.name}",
            },
        }

    def _files_getUploadURLExternal(self, params: dict[str, Any]) -> dict[str, Any]:
        file_id = f"FUP{len(self.files) + len(self.uploads) + 1:04d}{next(self._clock)}"
        self.files[file_id] = StoredFile(file_id, params["filename"], b"")
        return {"ok": True, "upload_url": f"{self.base}/upload/{file_id}", "file_id": file_id}

    def _files_completeUploadExternal(self, params: dict[str, Any]) -> dict[str, Any]:
        entries = json.loads(params["files"])
        shared = []
        for entry in entries:
            stored = self.files[entry["id"]]
            stored.content = self.uploads.get(entry["id"], b"")
            shared.append(
                {
                    "id": stored.id,
                    "name": stored.name,
                    "title": entry.get("title"),
                    "size": len(stored.content),
                }
            )
        channel = params.get("channel_id")
        if channel:
            message = {
                "type": "message",
                "user": BOT_USER,
                "bot_id": BOT_ID,
                "text": params.get("initial_comment", ""),
                "ts": self.next_ts(),
                "channel": channel,
                "files": shared,
            }
            if params.get("thread_ts"):
                message["thread_ts"] = params["thread_ts"]
            self.messages.setdefault(channel, []).append(message)
        return {"ok": True, "files": shared}


def _send(
    request: BaseHTTPRequestHandler,
    status: int,
    body: bytes,
    content_type: str,
    headers=None,
    *,
    length: bool = True,
) -> None:
    request.send_response(status)
    request.send_header("Content-Type", content_type)
    if length:
        request.send_header("Content-Length", str(len(body)))
    else:
        request.close_connection = True  # HTTP/1.0: the body ends where the connection does
    for name, value in (headers or {}).items():
        request.send_header(name, value)
    request.end_headers()
    request.wfile.write(body)


def _json(request: BaseHTTPRequestHandler, body: dict[str, Any]) -> None:
    _send(request, 200, json.dumps(body).encode(), "application/json; charset=utf-8")


# What Slack sends the bot ----------------------------------------------------------------

_event_ids = itertools.count(1)


def event_callback(
    event: dict[str, Any], *, event_type: str = "app_mention", channel_type: str = "im"
) -> dict[str, Any]:
    """The Events API envelope Slack posts (HTTP) or wraps in a Socket Mode message; a ``message``
    event comes from a direct message (message.im) or a channel (message.channels: "channel")."""
    event = {**event, "type": event_type}
    if event_type == "message":
        event["channel_type"] = channel_type
    return {
        "token": "unused",
        "team_id": TEAM,
        "api_app_id": "AZOOMQA",
        "type": "event_callback",
        "event_id": f"Ev{next(_event_ids):08d}",
        "event_time": int(time.time()),
        "event": event,
        "authorizations": [{"team_id": TEAM, "user_id": BOT_USER, "is_bot": True}],
    }


def signed_headers(
    body: bytes, *, secret: str = SIGNING_SECRET, timestamp: int | None = None
) -> dict[str, str]:
    """Slack's request signature: v0=HMAC-SHA256(secret, 'v0:<timestamp>:<body>')."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{stamp}:".encode() + body, hashlib.sha256).hexdigest()
    return {
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": f"v0={digest}",
        "Content-Type": "application/json",
    }


def post_event(
    url: str, payload: dict[str, Any], *, retry: int | None = None, headers=None
) -> tuple[int, float]:
    """Send ``payload`` to the bot as Slack does; returns (status, seconds until the response)."""
    body = json.dumps(payload).encode()
    sent = signed_headers(body) if headers is None else headers
    if retry is not None:
        sent = {**sent, "X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"}
    started = time.monotonic()
    request = urllib.request.Request(url, data=body, headers=sent, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, time.monotonic() - started
    except urllib.error.HTTPError as exc:
        return exc.code, time.monotonic() - started


# Socket Mode ---------------------------------------------------------------------------


class SocketModeStandIn:
    """The WebSocket end of Socket Mode: says hello, sends envelopes, collects the bot's acks."""

    def __init__(self) -> None:
        from websockets.sync.server import serve

        self.outbox: queue.Queue[dict[str, Any]] = queue.Queue()
        self.acks: list[dict[str, Any]] = []
        self.connected = threading.Event()
        self.server = serve(self._session, "127.0.0.1", 0)
        self.url = f"ws://127.0.0.1:{self.server.socket.getsockname()[1]}/link/?ticket=standin"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def _session(self, websocket: Any) -> None:
        websocket.send(
            json.dumps(
                {
                    "type": "hello",
                    "num_connections": 1,
                    "debug_info": {"host": "standin"},
                    "connection_info": {"app_id": "AZOOMQA"},
                }
            )
        )
        self.connected.set()
        while True:
            try:
                envelope = self.outbox.get(timeout=0.05)
                websocket.send(json.dumps(envelope))
            except queue.Empty:
                pass
            try:
                self.acks.append(json.loads(websocket.recv(timeout=0.05)))
            except TimeoutError:
                continue
            except Exception:
                return

    def send_event(self, payload: dict[str, Any], *, retry_attempt: int = 0) -> str:
        envelope_id = f"env-{payload['event_id']}-{retry_attempt}"
        self.outbox.put(
            {
                "envelope_id": envelope_id,
                "type": "events_api",
                "payload": payload,
                "accepts_response_payload": False,
                "retry_attempt": retry_attempt,
                "retry_reason": "timeout" if retry_attempt else "",
            }
        )
        return envelope_id

    def stop(self) -> None:
        self.server.shutdown()


# The bot ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bot_env(standin: SlackStandIn, home: Path, tmp: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "OPENAI_", "ZOOMQA_"))}
    return env | {
        "ZOOMQA_HOME": str(home),
        "ZOOMQA_CONFIG": str(tmp / "no-config.toml"),
        "ZOOMQA_SLACK_API_URL": standin.api_url,
        "ZOOMQA_ANSWER__WRITER": "extractive",
        "ZOOMQA_SLACK__MAX_FILE_BYTES": str(MAX_FILE_BYTES),
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "TMPDIR": str(tmp),
        "OMP_NUM_THREADS": "1",
        "HF_HUB_OFFLINE": "1",
        **extra,
    }


@dataclass
class RunningBot:
    process: subprocess.Popen[bytes]
    log: Path
    tmp: Path
    url: str = ""

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_bot(args: list[str], env: dict[str, str], log: Path, ready) -> RunningBot:
    """Start ``zoomqa slack ARGS`` and wait until ``ready()`` (a port answers, a socket connects)."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "zoomqa.cli", "slack", *args, "--verbose"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=REPO,
        )
    bot = RunningBot(process, log, Path(env["TMPDIR"]))
    deadline = time.monotonic() + 240
    while not ready():
        if process.poll() is not None:
            raise AssertionError(f"the bot exited with {process.returncode}:\n{bot.output()}")
        if time.monotonic() > deadline:
            bot.stop()
            raise AssertionError(f"the bot did not become ready:\n{bot.output()}")
        time.sleep(0.2)
    return bot


def port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


# A person in a channel -------------------------------------------------------------------


class Conversation:
    """One channel in which the test speaks as a person and waits for the bot's replies."""

    def __init__(self, standin: SlackStandIn, bot: RunningBot, channel: str) -> None:
        self.standin, self.bot, self.channel = standin, bot, channel

    def say(
        self,
        text: str,
        *,
        thread_ts: str | None = None,
        files=None,
        direct: bool = False,
        unmentioned: bool = False,
        user: str = HUMAN,
    ) -> dict:
        """Post as a person: a mention (app_mention), a direct message, or, ``unmentioned``, a
        channel message as message.channels delivers it."""
        message = self.standin.user_message(self.channel, text, thread_ts=thread_ts, files=files, user=user)
        if direct or unmentioned:
            payload = event_callback(
                message, event_type="message", channel_type="im" if direct else "channel"
            )
        else:
            payload = event_callback(message)
        self.send(payload)
        return payload

    def send(self, payload: dict) -> None:
        status, seconds = post_event(self.bot.url, payload)
        assert status == 200
        assert seconds < 2.0, f"Slack wants an answer within 3 s; the bot took {seconds:.2f} s"

    def replies_to(self, message: dict) -> list[dict]:
        """The bot's messages in the message's thread written after it."""
        thread_ts = message.get("thread_ts") or message["ts"]
        return [
            m
            for m in self.standin.thread(self.channel, thread_ts)
            if m.get("user") == BOT_USER and float(m["ts"]) > float(message["ts"])
        ]

    def answer_to(self, payload: dict, timeout: float = 90.0) -> dict:
        """The bot's reply to ``payload`` once the placeholder has been edited into something else."""
        message = payload["event"]

        def edited() -> dict | None:
            done = [m for m in self.replies_to(message) if m.get("blocks") or m["text"].startswith("Sorry")]
            return done[0] if done else None

        return self.standin.wait_for(edited, timeout, f"an answer to {message['text']!r}")

    def log_lines(self, *payloads: dict, timeout: float = 10.0) -> dict[str, dict[str, Any]]:
        """The bot's log line for each payload, by event id, once all are written.

        The bot logs a question after its reply is posted, so a test that has seen the reply waits
        for the line rather than reading the log at once.
        """
        wanted = {p["event_id"] for p in payloads}

        def written() -> dict[str, dict[str, Any]] | None:
            lines = question_lines(self.bot)
            return lines if wanted <= lines.keys() else None

        return self.standin.wait_for(written, timeout, f"the log lines of {sorted(wanted)}")


def channel_of(test_name: str) -> str:
    """A channel id of the test's own, so tests sharing a bot never read each other's messages."""
    return "C" + test_name.upper().replace("_", "")[:20]


def png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.radial_gradient("L").resize((width, height)).convert("RGB").save(buffer, format="PNG")
    return buffer.getvalue()


def question_lines(bot: RunningBot) -> dict[str, dict[str, Any]]:
    """The bot's one log line per question, by event id."""
    marker = " zoomqa.slack.questions: question "
    parsed = [json.loads(line.partition(marker)[2]) for line in bot.output().splitlines() if marker in line]
    return {line["event_id"]: line for line in parsed}
