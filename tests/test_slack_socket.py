"""`zoomqa slack --socket` end to end: apps.connections.open on the stand-in hands the bot a
ws:// URL on 127.0.0.1, where a stand-in Socket Mode server sends it envelopes."""

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
    start_bot,
)

CHANNEL = "CSOCKET"


@pytest.fixture(scope="module")
def standin() -> Iterator[SlackStandIn]:
    server = SlackStandIn().start()
    yield server
    server.stop()


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
    env = bot_env(standin, bundled_home, tmp, SLACK_APP_TOKEN=APP_TOKEN)
    running = start_bot(["--socket"], env, tmp / "bot.log", socket_server.connected.is_set)
    yield running
    running.stop()
    log = running.output()
    assert BOT_TOKEN not in log and APP_TOKEN not in log, "a token reached the bot's log"


def bot_replies(standin: SlackStandIn, message: dict) -> list[dict]:
    return [
        m
        for m in standin.thread(CHANNEL, message["ts"])
        if m.get("user") == BOT_USER and float(m["ts"]) > float(message["ts"])
    ]


def test_socket_mode_connects_with_the_app_token_acks_the_envelope_and_answers_in_the_thread(
    standin: SlackStandIn, socket_server: SocketModeStandIn, bot: RunningBot
) -> None:
    opened = standin.calls_of("apps.connections.open")
    assert opened and opened[0].authorized
    message = standin.user_message(
        CHANNEL, f"<@{BOT_USER}> I blew up an old photo 10x and it stayed crisp - how?"
    )
    envelope = socket_server.send_event(event_callback(message))
    standin.wait_for(lambda: {"envelope_id": envelope} in socket_server.acks, 10, "the envelope's ack")
    answer = standin.wait_for(
        lambda: [m for m in bot_replies(standin, message) if m.get("blocks")],
        90,
        "the answer over Socket Mode",
    )[0]
    assert answer["thread_ts"] == message["ts"]
    assert "*Task*" in answer["text"] and "<https://arxiv.org/abs/2012.09161|arXiv>" in answer["text"]


def test_a_retry_that_another_instance_already_answered_is_dropped(
    standin: SlackStandIn, socket_server: SocketModeStandIn, bot: RunningBot
) -> None:
    """The thread holds a reply whose metadata names the message: this instance never saw the
    event, yet it must not answer twice. A retry of an unanswered message is answered."""
    answered = standin.user_message(CHANNEL, f"<@{BOT_USER}> what is LIIF?")
    standin.bot_message(
        CHANNEL,
        "an earlier answer",
        thread_ts=answered["ts"],
        metadata={"event_type": "zoomqa_reply", "event_payload": {"reply_to": answered["ts"]}},
    )
    unanswered = standin.user_message(CHANNEL, f"<@{BOT_USER}> what is EDSR?")
    first = socket_server.send_event(event_callback(answered), retry_attempt=1)
    second = socket_server.send_event(event_callback(unanswered), retry_attempt=1)
    standin.wait_for(
        lambda: [m for m in bot_replies(standin, unanswered) if m.get("blocks")], 90, "the retry's answer"
    )
    assert {"envelope_id": first} in socket_server.acks and {"envelope_id": second} in socket_server.acks
    assert [m["text"] for m in bot_replies(standin, answered)] == ["an earlier answer"]
