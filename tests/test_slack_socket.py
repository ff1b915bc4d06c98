"""`zoomqa slack --socket` end to end: apps.connections.open on the stand-in hands the bot a
ws:// URL on 127.0.0.1, where a stand-in Socket Mode server sends it envelopes.

This bot's writer is the openai one, pointed at a port where nothing listens: every answer
meets a model outage, and the person still gets the offline answer, saying why, in the thread.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from slack_standin import (
    APP_TOKEN,
    BOT_TOKEN,
    BOT_USER,
    RunningBot,
    SlackStandIn,
    SocketModeStandIn,
    bot_env,
    event_callback,
    free_port,
    start_bot,
)

from zoomqa.agent.doors.slack.bot import PLACEHOLDER

CHANNEL = "CSOCKET"
OPENAI_KEY = "sk-slack-test-key-0123456789"
OUTAGE = "Cannot reach the model server at http://127.0.0.1:"


@pytest.fixture(scope="module")
def socket_server(standin: SlackStandIn) -> Iterator[SocketModeStandIn]:
    server = SocketModeStandIn()
    standin.socket_url = server.url
    yield server
    server.stop()


@pytest.fixture(scope="module")
def bot(
    standin: SlackStandIn,
    socket_server: SocketModeStandIn,
    bundled_home: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[RunningBot]:
    tmp = tmp_path_factory.mktemp("slack-socket")
    dead = free_port()
    env = bot_env(
        standin,
        bundled_home,
        tmp,
        SLACK_APP_TOKEN=APP_TOKEN,
        ZOOMQA_ANSWER__WRITER="openai",
        ZOOMQA_ANSWER__MAX_RETRIES="0",
        OPENAI_BASE_URL=f"http://127.0.0.1:{dead}/v1",
        OPENAI_API_KEY=OPENAI_KEY,
    )
    running = start_bot(["--socket"], env, tmp / "bot.log", socket_server.connected.is_set)
    yield running
    running.stop()
    log = running.output()
    assert not any(secret in log for secret in (BOT_TOKEN, APP_TOKEN, OPENAI_KEY)), "a secret reached the log"


def bot_replies(standin: SlackStandIn, message: dict) -> list[dict]:
    return [
        m
        for m in standin.thread(CHANNEL, message["ts"])
        if m.get("user") == BOT_USER and float(m["ts"]) > float(message["ts"])
    ]


def test_socket_mode_acks_the_envelope_and_a_model_outage_still_gets_the_offline_answer_in_the_thread(
    standin: SlackStandIn, socket_server: SocketModeStandIn, bot: RunningBot
) -> None:
    opened = standin.calls_of("apps.connections.open")
    assert opened and opened[0].authorized, "connected with the app token"
    message = standin.user_message(
        CHANNEL, f"<@{BOT_USER}> I blew up an old photo 10x and it stayed crisp - how?"
    )
    envelope = socket_server.send_event(event_callback(message))
    standin.wait_for(lambda: {"envelope_id": envelope} in socket_server.acks, 10, "the envelope's ack")
    replied = standin.wait_for(
        lambda: [m for m in bot_replies(standin, message) if m.get("blocks")], 90, "the reply"
    )
    assert len(bot_replies(standin, message)) == 1 and replied[0]["thread_ts"] == message["ts"]
    assert "*Task*" in replied[0]["text"], replied[0]["text"]
    small_print = replied[0]["blocks"][-1]["elements"][0]["text"]
    assert "written by extractive" in small_print and OUTAGE in small_print, small_print


def test_a_retry_that_another_instance_already_answered_is_dropped(
    standin: SlackStandIn, socket_server: SocketModeStandIn, bot: RunningBot
) -> None:
    """The thread holds a reply whose metadata names the message: this instance never saw the
    event, yet it must not answer twice. A retry of an unanswered message is answered."""
    answered = standin.user_message(CHANNEL, f"<@{BOT_USER}> what is LIIF?")
    metadata = {"event_type": "zoomqa_reply", "event_payload": {"reply_to": answered["ts"]}}
    standin.bot_message(CHANNEL, "an earlier answer", thread_ts=answered["ts"], metadata=metadata)
    unanswered = standin.user_message(CHANNEL, f"<@{BOT_USER}> what is EDSR?")
    first = socket_server.send_event(event_callback(answered), retry_attempt=1)
    second = socket_server.send_event(event_callback(unanswered), retry_attempt=1)
    standin.wait_for(
        lambda: [m for m in bot_replies(standin, unanswered) if m["text"] != PLACEHOLDER],
        90,
        "the reply",
    )
    assert {"envelope_id": first} in socket_server.acks and {"envelope_id": second} in socket_server.acks
    assert [m["text"] for m in bot_replies(standin, answered)] == ["an earlier answer"]
