"""The Slack bot when it has more to do than it can: the queue, the busy reply, each person's
limit on enlargements and the job timeout, end to end against the stand-in.

This module's bot has 2 workers, room for 2 waiting messages and a 5-second timeout. A worker is
kept busy either by holding its read of a thread at the stand-in (``conversations.replies`` waits
until the test lets it go) or by an enlargement far too big to finish in time on the CPU (a 64x64
picture made 64x bigger, 17 megapixels, which the timeout stops between two chunks).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from slack_standin import (
    BOT_USER,
    SIGNING_SECRET,
    Conversation,
    RunningBot,
    SlackStandIn,
    bot_env,
    channel_of,
    free_port,
    png,
    port_open,
    start_bot,
)

from zoomqa.agent.doors.slack.bot import BUSY, PLACEHOLDER

WORKERS, QUEUE, TIMEOUT_S = 2, 2, 5
BIG = "make this 64x bigger"  # the largest scale; for a 64x64 picture, most of a minute on a CPU


@pytest.fixture(scope="module")
def bot(
    standin: SlackStandIn, bundled_home: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningBot]:
    tmp = tmp_path_factory.mktemp("slack-operations")
    port = free_port()
    env = bot_env(
        standin,
        bundled_home,
        tmp,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        ZOOMQA_SLACK__WORKERS=str(WORKERS),
        ZOOMQA_SLACK__QUEUE_SIZE=str(QUEUE),
        ZOOMQA_SLACK__JOB_TIMEOUT_S=str(TIMEOUT_S),
        ZOOMQA_UPSCALE__DEVICE="cpu",
    )
    running = start_bot(
        ["--http", "--host", "127.0.0.1", "--port", str(port)], env, tmp / "bot.log", lambda: port_open(port)
    )
    running.url = f"http://127.0.0.1:{port}/slack/events"
    yield running
    running.stop()


@pytest.fixture
def chat(standin: SlackStandIn, bot: RunningBot, request: pytest.FixtureRequest) -> Conversation:
    return Conversation(standin, bot, channel_of(request.node.name))


def first_reply(chat: Conversation, payload: dict, what: str) -> dict:
    """The bot's first message in the payload's thread, as soon as it is there."""
    return chat.standin.wait_for(lambda: chat.replies_to(payload["event"]), 5, what)[0]


@contextmanager
def every_worker_busy(chat: Conversation) -> Iterator[None]:
    """Each worker answers a thread whose history the stand-in holds back until the block ends."""
    channel = f"{chat.channel}H"
    held = Conversation(chat.standin, chat.bot, channel)
    gate = chat.standin.hold("conversations.replies", channel)
    threads = [chat.standin.user_message(channel, "a thread") for _ in range(WORKERS)]
    payloads = [held.say(f"<@{BOT_USER}> what is LIIF?", thread_ts=t["ts"]) for t in threads]

    def reading() -> int:
        return len(
            [c for c in chat.standin.calls_of("conversations.replies") if c.params["channel"] == channel]
        )

    try:
        chat.standin.wait_for(lambda: reading() == WORKERS, 10, "every worker to be busy")
        yield
    finally:
        gate.set()
    for payload in payloads:
        held.answer_to(payload)


def test_while_every_worker_is_busy_a_placeholder_shows_the_queue_position_and_becomes_the_answer(
    chat: Conversation,
) -> None:
    with every_worker_busy(chat):
        first = chat.say(f"<@{BOT_USER}> what is LIIF?")
        shown = [first_reply(chat, first, "the first placeholder")]
        second = chat.say(f"<@{BOT_USER}> what is EDSR?")
        shown.append(first_reply(chat, second, "the second placeholder"))
        assert [m["text"] for m in shown] == [
            "_Queued: yours is next._",
            "_Queued: 1 question ahead of yours._",
        ]
        time.sleep(0.5)
        updated = {u.params["channel"] for u in chat.standin.calls_of("chat.update")}
        assert chat.channel not in updated, "nothing is answered while the workers are busy"
    answers = [chat.answer_to(payload) for payload in (first, second)]
    assert [a["ts"] for a in answers] == [m["ts"] for m in shown], "the placeholder became the answer"
    assert all("*Task*" in a["text"] for a in answers)
    texts = [
        u.params["text"] for u in chat.standin.calls_of("chat.update") if u.params["ts"] == shown[1]["ts"]
    ]
    assert texts[0] == PLACEHOLDER, "a worker took it: the placeholder says so before the answer"
    lines = chat.log_lines(first, second)
    assert all(lines[p["event_id"]]["queued_s"] > 0.4 for p in (first, second)), "the wait is logged"


def test_a_message_beyond_a_full_queue_is_told_at_once_that_the_bot_is_busy(chat: Conversation) -> None:
    with every_worker_busy(chat):
        waiting = []
        for n in range(QUEUE):
            waiting.append(chat.say(f"<@{BOT_USER}> what is LIIF? ({n})"))
            first_reply(chat, waiting[-1], "a place in the queue")
        turned_away = chat.say(f"<@{BOT_USER}> what is EDSR?")
        assert first_reply(chat, turned_away, "the busy reply")["text"] == BUSY
    for payload in waiting:
        assert "*Task*" in chat.answer_to(payload)["text"]
    time.sleep(0.5)
    assert [m["text"] for m in chat.replies_to(turned_away["event"])] == [BUSY], "it was never queued"
    line = chat.log_lines(turned_away)[turned_away["event_id"]]
    assert line["outcome"] == "busy" and line["answer_s"] is None


def test_a_second_enlargement_from_the_same_person_is_declined_while_the_first_runs(
    chat: Conversation,
) -> None:
    big = chat.standin.add_file("FMURAL01", "mural.png", png(64, 64))
    first = chat.say(f"<@{BOT_USER}> {BIG}", files=[big])
    chat.standin.wait_for(lambda: ("FMURAL01", True) in chat.standin.downloads, 10, "the first enlargement")
    stamp = chat.standin.add_file("FSTAMP01", "stamp.png", png(8, 8))
    second = chat.say(f"<@{BOT_USER}> make this 2x bigger", files=[stamp])
    declined = chat.standin.wait_for(
        lambda: [m for m in chat.replies_to(second["event"]) if m["text"].startswith("You already")],
        5,
        "the refusal",
    )
    assert declined[0]["text"] == (
        "You already have a picture being enlarged, as many as I take from one person at a time; "
        "please ask again when it is done."
    )
    assert ("FSTAMP01", True) not in chat.standin.downloads, "not even downloaded"
    assert chat.log_lines(second)[second["event_id"]]["outcome"] == "refused"

    someone_else = chat.say(f"<@{BOT_USER}> make this 2x bigger", files=[stamp], user="UOTHER01")
    assert "stamp.png went from 8x8 to 16x16" in chat.answer_to(someone_else)["text"], (
        "the limit is per person"
    )
    chat.standin.wait_for(
        lambda: [m for m in chat.replies_to(first["event"]) if m["text"].startswith("Sorry, I gave up")],
        TIMEOUT_S + 20,
        "the first enlargement to time out",
    )


def test_a_message_over_the_timeout_is_abandoned_with_a_reference_that_its_log_line_carries(
    chat: Conversation,
) -> None:
    poster = chat.standin.add_file("FPOSTER1", "poster.png", png(64, 64))
    payload = chat.say(f"<@{BOT_USER}> {BIG}", files=[poster])
    text = chat.answer_to(payload, timeout=TIMEOUT_S + 20)["text"]
    ref = re.fullmatch(
        r"Sorry, I gave up on this after 5 s; please try again later \(ref ([0-9a-f]{6})\)\.", text
    )
    assert ref, text
    line = chat.log_lines(payload)[payload["event_id"]]
    assert line["outcome"] == "timeout" and line["ref"] == ref.group(1)
    assert line["answer_s"] >= TIMEOUT_S and line["tool_s"] is None
    # while it ran, the placeholder showed how far the enlargement was and the time it had left
    progress = [
        u.params["text"] for u in chat.standin.calls_of("chat.update") if "Enlarging" in u.params["text"]
    ]
    assert any(re.search(r"\d+%, about \d+ s left", p) for p in progress), progress
    # The worker stops between two chunks of the enlargement, as Ctrl-C stops it in the chat.
    chat.standin.wait_for(lambda: not list(chat.bot.tmp.glob("zoomqa-slack-*")), 10, "the work to stop")
    assert "stopped the work on a message that ran past 5 s" in chat.bot.output()
    time.sleep(0.5)
    assert [m["text"] for m in chat.replies_to(payload["event"])] == [text], "no late answer, no upload"
