"""`zoomqa slack --http` end to end: the real bot process, a stand-in Slack on 127.0.0.1, signed events.

One bot serves the whole module (starting it loads the index and the embedder); every test
talks to it in its own channel, as a person would, and reads back what the bot wrote.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml
from PIL import Image
from slack_standin import (
    APP_TOKEN,
    BOT_ID,
    BOT_TOKEN,
    BOT_USER,
    HUMAN,
    MAX_FILE_BYTES,
    REPO,
    SIGNING_SECRET,
    Conversation,
    RunningBot,
    SlackStandIn,
    bot_env,
    channel_of,
    event_callback,
    free_port,
    png,
    port_open,
    post_event,
    signed_headers,
    start_bot,
)

TEN_X = "I blew up an old photo 10x and it stayed crisp - how?"


@pytest.fixture(scope="module")
def bot(
    standin: SlackStandIn, bundled_home: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningBot]:
    tmp = tmp_path_factory.mktemp("slack-bot")
    port = free_port()
    env = bot_env(standin, bundled_home, tmp, SLACK_SIGNING_SECRET=SIGNING_SECRET)
    running = start_bot(
        ["--http", "--host", "127.0.0.1", "--port", str(port)], env, tmp / "bot.log", lambda: port_open(port)
    )
    running.url = f"http://127.0.0.1:{port}/slack/events"
    yield running
    running.stop()
    log = running.output()
    assert BOT_TOKEN not in log and SIGNING_SECRET not in log, "a secret reached the bot's log"


@pytest.fixture
def chat(standin: SlackStandIn, bot: RunningBot, request: pytest.FixtureRequest) -> Conversation:
    return Conversation(standin, bot, channel_of(request.node.name))


def updates_of(standin: SlackStandIn, channel: str) -> list[dict]:
    return [c.params for c in standin.calls_of("chat.update") if c.params["channel"] == channel]


def test_a_mention_gets_a_placeholder_edited_into_a_three_part_answer_in_its_thread(
    chat: Conversation,
) -> None:
    payload = chat.say(f"<@{BOT_USER}> {TEN_X}")
    message = payload["event"]
    answer = chat.answer_to(payload)
    posts = [
        c.params for c in chat.standin.calls_of("chat.postMessage") if c.params["channel"] == chat.channel
    ]
    assert len(posts) == 1 and posts[0]["thread_ts"] == message["ts"], "one reply, in the message's thread"
    assert "Looking through the papers" in posts[0]["text"]
    assert [u["ts"] for u in updates_of(chat.standin, chat.channel)] == [answer["ts"]], (
        "the placeholder was edited"
    )
    assert chat.replies_to(message) == [answer]
    text = answer["text"]
    assert text.index("*Task*") < text.index("*How it works*") < text.index("*Papers and tools*")
    assert "<https://arxiv.org/abs/2012.09161|arXiv>" in text, "sources are links"
    kinds = [b["type"] for b in answer["blocks"]]
    assert kinds[-1] == "context" and "section" in kinds
    context = answer["blocks"][-1]["elements"][0]["text"]
    assert "written by extractive" in context and " s (retrieval" in context
    assert all(c.authorized for c in chat.standin.calls if c.params.get("channel") == chat.channel)


SOAK_QUESTIONS = (
    "what is LIIF?",
    "which upscaler should I use for an old family photo with scratches?",
    "how do I make a blurry JPEG bigger without blocks?",
    "why does my upscaled image look like an oil painting?",
    "what does PSNR measure and why is it not enough?",
    "can I enlarge a picture 6x on a laptop without a GPU?",
    "what is the difference between SRGAN and EDSR?",
    "which dataset are super-resolution models trained on?",
    "how does an arbitrary-scale upscaler pick the colour of a new pixel?",
    "what is the best way to upscale anime screenshots?",
    "how can I restore faces in a low resolution group photo?",
    "is SwinIR better than RCAN for 4x?",
)


def test_many_people_mentioning_the_bot_at_once_each_get_one_answer_and_no_error(
    standin: SlackStandIn, bot: RunningBot
) -> None:
    """The workers share the embedder, the index and the question analysis: 48 mentions from 12
    people in 12 channels, sent all at once, are each acknowledged in time and answered once."""
    senders = [Conversation(standin, bot, f"CSOAK{n:02d}") for n in range(12)]

    def send(n: int) -> dict:
        chat = senders[n % len(senders)]
        question = SOAK_QUESTIONS[(n * 5 + n // len(senders)) % len(SOAK_QUESTIONS)]
        return chat.say(f"<@{BOT_USER}> {question}", user=f"U{n % len(senders):08d}")

    with ThreadPoolExecutor(max_workers=len(senders)) as pool:
        payloads = list(pool.map(send, range(48)))  # say() asserts each was acknowledged within 2 s
    for n, payload in enumerate(payloads):
        chat = senders[n % len(senders)]
        answer = chat.answer_to(payload, timeout=300.0)
        assert not answer["text"].startswith("Sorry"), answer["text"]
        assert "*Task*" in answer["text"]
    time.sleep(1.0)
    for n, payload in enumerate(payloads):
        assert len(senders[n % len(senders)].replies_to(payload["event"])) == 1, "answered exactly once"
    log = bot.output()
    assert "Traceback" not in log and "IndexError" not in log


def test_a_direct_message_is_answered_in_its_thread_and_edits_are_ignored(chat: Conversation) -> None:
    payload = chat.say(TEN_X, direct=True)
    answer = chat.answer_to(payload)
    assert answer["thread_ts"] == payload["event"]["ts"] and "*Task*" in answer["text"]
    edit = event_callback(
        {
            "channel": chat.channel,
            "subtype": "message_changed",
            "ts": chat.standin.next_ts(),
            "message": {"text": "changed"},
        },
        event_type="message",
    )
    ours = event_callback(
        {"channel": chat.channel, "bot_id": BOT_ID, "text": "an answer", "ts": chat.standin.next_ts()},
        event_type="message",
    )
    for event in (edit, ours):
        assert post_event(chat.bot.url, event)[0] == 200
    time.sleep(1.5)
    assert len(chat.replies_to(payload["event"])) == 1


def test_slack_retries_of_a_slow_answer_are_acknowledged_but_not_answered_again(chat: Conversation) -> None:
    payload = chat.say(f"<@{BOT_USER}> what is LIIF?")
    for retry in (1, 2):
        status, seconds = post_event(chat.bot.url, payload, retry=retry)
        assert status == 200 and seconds < 2.0
    chat.answer_to(payload)
    time.sleep(1.0)
    assert len(chat.replies_to(payload["event"])) == 1
    posts = [c for c in chat.standin.calls_of("chat.postMessage") if c.params["channel"] == chat.channel]
    assert len(posts) == 1


def test_an_unsigned_or_stale_request_is_refused_and_nothing_is_posted(chat: Conversation) -> None:
    message = chat.standin.user_message(chat.channel, f"<@{BOT_USER}> {TEN_X}")
    payload = event_callback(message)
    body = json.dumps(payload).encode()
    assert post_event(chat.bot.url, payload, headers=signed_headers(body, secret="not-the-secret"))[0] == 401
    stale = signed_headers(body, timestamp=int(time.time()) - 3600)
    assert post_event(chat.bot.url, payload, headers=stale)[0] == 401
    time.sleep(1.0)
    assert not chat.replies_to(message)


def test_slack_can_verify_the_request_url(bot: RunningBot) -> None:
    body = json.dumps({"type": "url_verification", "token": "unused", "challenge": "3eZbrw1aB"}).encode()
    request = urllib.request.Request(bot.url, data=body, headers=signed_headers(body), method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200 and json.loads(response.read()) == {"challenge": "3eZbrw1aB"}


def test_a_follow_up_in_the_thread_is_answered_with_the_thread_as_context(chat: Conversation) -> None:
    first = chat.say(f"<@{BOT_USER}> {TEN_X}")
    chat.answer_to(first)
    thread_ts = first["event"]["ts"]
    follow_up = chat.say(f"<@{BOT_USER}> and what does it take as input?", thread_ts=thread_ts)
    answer = chat.answer_to(follow_up)
    read = [
        c.params
        for c in chat.standin.calls_of("conversations.replies")
        if c.params["channel"] == chat.channel
    ]
    assert read and read[-1]["ts"] == thread_ts, "the history comes from Slack, not from the bot's memory"
    assert answer["thread_ts"] == thread_ts
    assert "*Task*" in answer["text"] and "LIIF" in answer["text"], (
        "the follow-up was read with the first question"
    )
    alone = chat.answer_to(chat.say(f"<@{BOT_USER}> and what does it take as input?"))
    # without the thread the same words are another question: not the LIIF answer's opening
    opening = answer["text"].split("*Task*\n", 1)[1].split("\n", 1)[0]
    assert opening not in alone["text"], "without the thread the question is not about LIIF"


def test_an_attached_picture_is_enlarged_and_the_result_and_comparison_come_back_to_the_thread(
    chat: Conversation,
) -> None:
    shared = chat.standin.add_file("FCAT0001", "my cat.png", png(24, 16))
    payload = chat.say(f"<@{BOT_USER}> please make this 3x bigger", files=[shared])
    answer = chat.answer_to(payload)["text"]
    assert ("FCAT0001", True) in chat.standin.downloads, "downloaded with the bot token"
    assert "24x16 to 72x48" in answer, answer
    assert "zoomqa-slack-" not in answer, "the bot's temporary paths are not shown"
    uploaded = chat.standin.wait_for(
        lambda: [m for m in chat.replies_to(payload["event"]) if m.get("files")], 30, "the uploaded pictures"
    )
    complete = [
        c.params
        for c in chat.standin.calls_of("files.completeUploadExternal")
        if c.params.get("channel_id") == chat.channel
    ]
    assert len(complete) == 1 and complete[0]["thread_ts"] == payload["event"]["ts"]
    files = uploaded[0]["files"]
    assert [f["title"] for f in files] == ["LIIF, 72×48", "bicubic and LIIF side by side"]
    pictures = [Image.open(io.BytesIO(chat.standin.files[f["id"]].content)) for f in files]
    assert pictures[0].size == (72, 48) and pictures[1].width > 72, [p.size for p in pictures]
    chat.standin.wait_for(
        lambda: not list(chat.bot.tmp.glob("zoomqa-slack-*")), 10, "the temporary folder to go"
    )


def test_a_follow_up_asking_for_another_size_enlarges_the_picture_shared_earlier_in_the_thread(
    chat: Conversation,
) -> None:
    shared = chat.standin.add_file("FDOG0001", "dog.png", png(20, 20))
    first = chat.say(f"<@{BOT_USER}> upscale this 2x please", files=[shared])
    chat.answer_to(first)
    follow_up = chat.say(f"<@{BOT_USER}> now make it 4x bigger", thread_ts=first["event"]["ts"])
    answer = chat.answer_to(follow_up)["text"]
    assert "20x20 to 80x80" in answer, answer
    question = chat.say(f"<@{BOT_USER}> why does it stay sharp?", thread_ts=first["event"]["ts"])
    assert "*Task*" in chat.answer_to(question)["text"]
    downloads = [file_id for file_id, _ in chat.standin.downloads]
    assert downloads.count("FDOG0001") == 2, "fetched for the two enlargements, not for the question"


def test_a_picture_sent_without_words_in_a_direct_message_is_enlarged(chat: Conversation) -> None:
    shared = chat.standin.add_file("FSUN0001", "sunset.jpg", png(16, 12))
    payload = chat.say("", files=[shared], direct=True)
    answer = chat.answer_to(payload)["text"]
    assert "sunset.png went from 16x12 to 32x24" in answer, "2x, and the file is named by its content (PNG)"
    chat.standin.wait_for(
        lambda: [m for m in chat.replies_to(payload["event"]) if m.get("files")], 30, "the uploaded pictures"
    )


def test_a_too_big_file_is_not_downloaded_and_a_non_image_is_refused_by_its_content(
    chat: Conversation,
) -> None:
    big = chat.standin.add_file("FBIG0001", "huge.png", png(24, 16), claimed_size=50_000_000)
    padded = png(24, 16) + b"\0" * (MAX_FILE_BYTES * 2)
    liar = chat.standin.add_file("FLIE0001", "small.png", padded, claimed_size=900, send_length=False)
    honest = chat.standin.add_file("FLEN0001", "long.png", padded, claimed_size=900)
    fake = chat.standin.add_file("FTXT0001", "cat.png", b"%PDF-1.7 this is not a picture\n" * 10)
    payload = chat.say(f"<@{BOT_USER}> enlarge these 2x", files=[big, liar, honest, fake])
    answer = chat.answer_to(payload)["text"]
    downloaded = [file_id for file_id, _ in chat.standin.downloads]
    assert "FBIG0001" not in downloaded, "the size was checked before the download"
    assert "huge.png: 50 MB is above the 0.06 MB limit" in answer
    assert "small.png: it is larger than the 0.06 MB limit" in answer, "counted while reading"
    assert "long.png: 0.12 MB is above the 0.06 MB limit" in answer, "Content-Length checked before reading"
    assert "cat.png: it is not an image the upscaler reads" in answer
    assert not [m for m in chat.replies_to(payload["event"]) if m.get("files")], "nothing was enlarged"
    chat.standin.wait_for(
        lambda: not list(chat.bot.tmp.glob("zoomqa-slack-*")), 10, "the temporary folder to go"
    )


def test_the_bot_token_goes_only_to_slack_s_own_hosts(chat: Conversation) -> None:
    elsewhere = SlackStandIn().start()
    try:
        elsewhere.add_file("FOUT0001", "out.png", png(8, 8))
        url = f"{elsewhere.base}/files/FOUT0001/download/out.png"
        shared = chat.standin.add_file("FOUT0001", "out.png", png(8, 8), url=url)
        payload = chat.say(f"<@{BOT_USER}> enlarge this 2x", files=[shared])
        answer = chat.answer_to(payload)["text"]
    finally:
        elsewhere.stop()
    assert "out.png: Slack gave no download address the bot may use" in answer
    assert not elsewhere.downloads, "nothing, least of all the token, went to the other host"


def test_a_429_is_retried_after_the_seconds_slack_asks_for(chat: Conversation) -> None:
    chat.standin.fail_next("chat.postMessage", status=429, error="ratelimited", headers={"Retry-After": "1"})
    payload = chat.say(f"<@{BOT_USER}> what is LIIF?")
    answer = chat.answer_to(payload)
    posts = chat.standin.calls_of("chat.postMessage")[-2:]
    assert [p.params["channel"] for p in posts] == [chat.channel] * 2
    assert posts[1].at - posts[0].at >= 1.0, "the retry waited for Retry-After"
    assert "*Task*" in answer["text"]


def test_a_slack_failure_while_answering_becomes_one_short_reply(chat: Conversation) -> None:
    first = chat.say(f"<@{BOT_USER}> what is LIIF?")
    chat.answer_to(first)
    chat.standin.fail_next("conversations.replies", error="internal_error")
    payload = chat.say(f"<@{BOT_USER}> and how is it trained?", thread_ts=first["event"]["ts"])
    answer = chat.answer_to(payload)
    text = answer["text"]
    assert text.startswith("Sorry, Slack did not accept part of my answer (internal_error); please ask again")
    ref = re.fullmatch(r".* \(ref ([0-9a-f]{6})\)\.", text)
    assert ref, f"an error reply carries a reference: {text!r}"
    assert len(chat.replies_to(payload["event"])) == 1
    line = chat.log_lines(payload)[payload["event_id"]]
    assert line["outcome"] == "error" and line["ref"] == ref.group(1), "the admin finds the reply's ref"


def test_the_manifest_asks_for_exactly_the_scopes_of_the_calls_the_bot_made(standin: SlackStandIn) -> None:
    manifest = yaml.safe_load((REPO / "slack" / "manifest.yaml").read_text())
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    events = set(manifest["settings"]["event_subscriptions"]["bot_events"])
    history = {"channels:history", "groups:history", "mpim:history", "im:history"}
    needs = {
        "auth.test": set(),
        "chat.postMessage": {"chat:write"},
        "chat.update": {"chat:write"},
        "conversations.replies": history,
        "files.info": {"files:read"},
        "files.getUploadURLExternal": {"files:write"},
        "files.completeUploadExternal": {"files:write"},
    }
    called = {c.method for c in standin.calls}
    assert called <= set(needs), f"a method without a known scope: {called - set(needs)}"
    needed = set().union(*(needs[m] for m in called)) | {"app_mentions:read", "im:history"}
    assert scopes == needed
    assert events == {"app_mention", "message.im", "message.channels", "message.groups", "message.mpim"}
    assert manifest["settings"]["socket_mode_enabled"] is True


@pytest.mark.parametrize(
    ("args", "env", "named"),
    [
        (["--http"], {"SLACK_BOT_TOKEN": BOT_TOKEN}, "SLACK_SIGNING_SECRET"),
        (["--socket"], {"SLACK_BOT_TOKEN": BOT_TOKEN}, "SLACK_APP_TOKEN"),
        (["--socket"], {"SLACK_APP_TOKEN": APP_TOKEN}, "SLACK_BOT_TOKEN"),
        (["--http", "--socket"], {}, "choose one transport"),
    ],
)
def test_the_bot_refuses_to_start_without_what_it_needs(
    args: list[str], env: dict[str, str], named: str, tmp_path: Path
) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "ZOOMQA_"))}
    clean |= {"ZOOMQA_HOME": str(tmp_path), "ZOOMQA_CONFIG": str(tmp_path / "none.toml"), **env}
    completed = subprocess.run(
        [sys.executable, "-m", "zoomqa.cli", "slack", *args],
        capture_output=True,
        text=True,
        env=clean,
        timeout=60,
    )
    assert completed.returncode == 2
    assert named in completed.stderr and "Traceback" not in completed.stderr
    assert BOT_TOKEN not in completed.stderr + completed.stdout


def test_a_token_slack_rejects_stops_the_bot_with_one_line(standin: SlackStandIn, tmp_path: Path) -> None:
    env = bot_env(
        standin, tmp_path, tmp_path, SLACK_SIGNING_SECRET=SIGNING_SECRET, SLACK_BOT_TOKEN="xoxb-wrong"
    )
    completed = subprocess.run(
        [sys.executable, "-m", "zoomqa.cli", "slack", "--http", "--port", str(free_port())],
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
    )
    assert completed.returncode == 2, completed.stderr
    assert "did not accept SLACK_BOT_TOKEN: invalid_auth" in completed.stderr
    assert "Traceback" not in completed.stderr and "xoxb-wrong" not in completed.stderr


def test_a_reply_without_a_mention_is_answered_in_a_thread_the_bot_answered_in_and_nowhere_else(
    chat: Conversation,
) -> None:
    """Slack sends a mention as app_mention and as message.channels: it is answered once. A
    reply in that thread needs no mention; a thread the bot never replied in stays the people's."""
    message = chat.standin.user_message(chat.channel, f"<@{BOT_USER}> {TEN_X}")
    first = event_callback(message)
    chat.send(event_callback(message, event_type="message", channel_type="channel"))  # may come first
    chat.send(first)
    chat.answer_to(first)
    follow_up = chat.say("and what does it take as input?", thread_ts=message["ts"], unmentioned=True)
    answer = chat.answer_to(follow_up)
    assert answer["thread_ts"] == message["ts"] and "LIIF" in answer["text"], "read with the thread"
    assert len(chat.replies_to(message)) == 2, "the mention was answered once, the follow-up once"

    elsewhere = chat.say("what is LIIF, does anyone know?", unmentioned=True)
    among_people = chat.say("no idea, ask the bot", thread_ts=elsewhere["event"]["ts"], unmentioned=True)
    time.sleep(1.5)
    assert not chat.replies_to(elsewhere["event"]) and not chat.replies_to(among_people["event"])


def test_each_question_has_one_log_line_with_a_hash_of_its_text_and_never_the_text(
    chat: Conversation,
) -> None:
    asked = chat.say(f"<@{BOT_USER}> which upscaler suits a blurry scan of a letter?")
    off_topic = chat.say(f"<@{BOT_USER}> what is a good recipe for lasagne?")
    for payload in (asked, off_topic):
        chat.answer_to(payload)

    lines = chat.log_lines(asked, off_topic)
    line = lines[asked["event_id"]]
    text = asked["event"]["text"]
    assert line["text_sha256"] == hashlib.sha256(text.encode()).hexdigest()[:10]
    assert (line["channel"], line["user"], line["thread_ts"]) == (chat.channel, HUMAN, asked["event"]["ts"])
    assert line["outcome"] == "answered" and line["ref"] is None
    assert line["queued_s"] >= 0 and line["answer_s"] > 0 and line["tool_s"] == 0
    assert lines[off_topic["event_id"]]["outcome"] == "refused"
    logged = [row for row in chat.bot.output().splitlines() if "zoomqa.slack.questions" in row]
    assert len([row for row in logged if asked["event_id"] in row]) == 1, "one line per question"
    assert not any(words in row for row in logged for words in ("blurry scan", "lasagne", BOT_TOKEN))


def test_start_up_is_quiet_and_says_ready_in_one_line(bot: RunningBot) -> None:
    log = bot.output()
    assert "ModuleNotFoundError" not in log and "faiss.loader" not in log, "faiss's loader is silenced"
    assert "token` will be unused" not in log
    ready = [line for line in log.splitlines() if " ready: " in line]
    assert len(ready) == 1 and "serving Slack events at http://127.0.0.1:" in ready[0], ready
