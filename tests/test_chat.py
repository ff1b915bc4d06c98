"""`zoomqa chat` end to end in a pseudo-terminal, and `zoomqa ask` running the tool: real CLI, index, upscaler."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from zoomqa.agent.doors.chat.session import HISTORY_FILE, parse_upscale_command
from zoomqa.cli import app
from zoomqa.errors import ZoomqaError
from zoomqa.files import FILE_MODE
from zoomqa.index.records import read_bundled_corpus

pexpect = pytest.importorskip("pexpect")

TEN_X = "I blew up an old photo 10x and it stayed crisp - how?"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[=>]|\r")


def screen(text: str) -> str:
    """Terminal output as plain text, lines unwrapped."""
    return " ".join(ANSI.sub("", text).split())


def picture(path: Path, size: tuple[int, int]) -> Path:
    pixels = np.random.default_rng(3).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)
    return path


@pytest.fixture()
def chat_home(bundled_home: Path, tmp_path: Path) -> Path:
    """A copy of the bundled home: the chat writes its history file there."""
    home = tmp_path / "home"
    shutil.copytree(bundled_home, home)
    return home


def chat_env(home: Path) -> dict[str, str]:
    return {
        **os.environ,
        "ZOOMQA_HOME": str(home),
        "ZOOMQA_CONFIG": str(home / "no-config.toml"),
        "OMP_NUM_THREADS": "1",
        "PROMPT_TOOLKIT_NO_CPR": "1",  # the pseudo-terminal does not answer cursor-position queries
        "TERM": "xterm",
        "OPENAI_BASE_URL": f"http://127.0.0.1:{free_port()}/v1",  # a server that is down, for /writer openai
        "OPENAI_API_KEY": "sk-chat-test",
        "ZOOMQA_ANSWER__MAX_RETRIES": "0",
        "ZOOMQA_ANSWER__GGUF_PATH": str(home / "missing.gguf"),  # /writer local cannot load
    }


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def as_a_background_job() -> None:
    """What a script's `cmd &` does to its job (and so to the tests run that way, and to the
    chats they start): SIGINT ignored, which Python then leaves ignored."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class Chat:
    """The real `zoomqa chat` in a pseudo-terminal, one answer at a time; started with SIGINT
    ignored, so Ctrl-C works only because the chat takes it itself."""

    def __init__(self, home: Path, cwd: Path) -> None:
        self.child = pexpect.spawn(
            sys.executable,
            ["-m", "zoomqa.cli", "chat"],
            cwd=str(cwd),
            env=chat_env(home),
            dimensions=(60, 160),
            encoding="utf-8",
            timeout=120,
            preexec_fn=as_a_background_job,
        )
        self.child.expect("you>")
        self.banner = screen(self.child.before)

    def send(self, line: str, until: str = "written by") -> str:
        """Send a line and return the screen up to ``until`` and the next prompt."""
        self.child.send(line + "\r")
        self.child.expect(re.escape(until))
        shown = self.child.before + until
        self.child.expect("you>")
        return screen(shown + self.child.before)


def test_a_conversation_in_the_terminal(chat_home: Path, tmp_path: Path) -> None:
    folder = tmp_path / "pictures"
    folder.mkdir()
    cat = picture(folder / "cat.png", (16, 12))
    picture(folder / "big.png", (64, 48))
    original = cat.read_bytes()
    chat = Chat(chat_home, folder)
    records = len(read_bundled_corpus())  # what the bundled home's index holds
    assert "writer extractive" in chat.banner and f"index {records} records (all-MiniLM-L6-v2)" in chat.banner
    assert "upscaler liif-edsr (device auto)" in chat.banner

    first = chat.send(TEN_X)
    assert first.index("Task") < first.index("How it works") < first.index("Papers and tools")
    assert "https://arxiv.org/abs/2012.09161" in first

    follow_up = chat.send("and at 8x?")
    assert "searched for: I blew up an old photo 8x and it stayed crisp - how?" in follow_up

    upscaled = chat.send("upscale cat.png\x1b\r3x")  # Esc Enter: a new line, not sent yet
    assert f"saved as {folder / 'cat_x3.png'}" in upscaled and "cat_x3_compare.png" in upscaled
    assert (
        upscaled.index("How it works")
        < upscaled.index("cat.png went from 16x12 to 48x36")
        < upscaled.index("Papers and tools")
    )
    with_command = chat.send("/upscale cat.png 40x30")
    assert "cat.png went from 16x12 to 40x30" in with_command
    missing = chat.send("/upscale dog.png 2")
    assert "I could not enlarge dog.png: no image named dog.png in the allowed folders" in missing
    assert "error: scale must be greater than 1, not 1" in chat.send("/upscale cat.png 1", until="not 1")
    (folder / "notes.txt").write_text("my secret notes")
    for path in ("notes.txt", "../../etc/passwd"):  # a request, refused by the file's name
        refused = chat.send(f"upscale {path} 3x")
        assert (
            f"I can only enlarge image files (png, jpg, jpeg, webp, bmp, tif, tiff, gif): {path} is not one"
            in refused
        )
        assert "secret" not in refused and "root:" not in refused

    sources = chat.send("/sources", until="score")
    assert "Learning Continuous Image Representation" in sources or "LIIF" in sources
    assert "unknown or incomplete command '/bogus'" in chat.send("/bogus", until="/help lists")
    assert "/upscale PATH SCALE|WxH" in chat.send("/help", until="/exit")
    assert "retrieving 3 models and 3 papers" in chat.send("/k 3", until="papers")
    assert "writer: openai" in chat.send("/writer openai", until="writer: openai")
    down = chat.send(TEN_X, until="this is the offline answer")  # the server is down: answered offline
    assert "Cannot reach the model server at http://127.0.0.1:" in down and "Traceback" not in down
    assert "writer: extractive" in chat.send("/writer extractive", until="writer: extractive")
    refused = chat.send("/writer local", until="still writing with extractive")  # checked before the switch
    assert "error: cannot use the local writer: GGUF model file not found" in refused

    # Ctrl-C while a large picture is being enlarged stops it, leaves no file, keeps the chat,
    # and the cancelled turn is not part of the conversation: the next follow-up builds on the
    # last question answered (were the request remembered, "and at 8x?" would enlarge big.png)
    chat.child.send("upscale big.png 40x\r")
    chat.child.expect("enlarging the picture")
    chat.child.sendintr()
    chat.child.expect("cancelled")
    chat.child.expect("you>")
    assert not list(folder.glob("big_*"))
    again = chat.send("and at 8x?")
    assert "searched for: I blew up an old photo 8x and it stayed crisp - how?" in again
    assert "written by extractive" in again and "enlarging" not in again
    assert "conversation cleared" in chat.send("/clear", until="cleared")

    # the same for /upscale
    chat.child.send("/upscale big.png 40\r")
    chat.child.expect("enlarging the picture")
    chat.child.sendintr()
    chat.child.expect("cancelled")
    chat.child.expect("you>")
    assert not list(folder.glob("big_*"))

    saved = chat.send("/save chat.md", until="saved the conversation")
    assert str(folder / "chat.md") in saved or "chat.md" in saved
    assert "already exists" in chat.send("/save chat.md", until="choose another")
    chat.child.send("/exit\r")
    chat.child.expect("bye")
    chat.child.expect(pexpect.EOF)
    chat.child.close()
    assert chat.child.exitstatus == 0

    transcript = (folder / "chat.md").read_text()
    assert (folder / "chat.md").stat().st_mode & 0o777 == FILE_MODE, "the umask decides, not mkstemp"
    assert transcript.count("## You") == 9 and transcript.count(TEN_X) == 2
    assert transcript.count("and at 8x?") == 2 and "big.png" not in transcript  # cancelled: not there
    assert "upscale cat.png\n3x" in transcript
    assert "cat_x3.png" in transcript and "/upscale cat.png 40x30" in transcript
    with Image.open(folder / "cat_x3.png") as out, Image.open(folder / "cat_40x30.png") as sized:
        assert out.size == (48, 36) and sized.size == (40, 30)
    assert cat.read_bytes() == original
    history = (chat_home / HISTORY_FILE).read_text()
    assert TEN_X in history and "/upscale cat.png 40x30" in history


def test_ask_runs_the_tool_and_its_json_lists_the_call(
    indexed_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    picture(tmp_path / "scan.png", (16, 12))
    monkeypatch.chdir(tmp_path)  # ask may use pictures in the current folder
    result = CliRunner().invoke(app, ["ask", "upscale this photo 2.5x: scan.png", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["relevant"] and data["steps"] and data["sources"]
    (call,) = data["tool_calls"]
    assert call["ok"] and call["arguments"] == {"path": "scan.png", "scale": 2.5}
    assert call["output_size"] == [40, 30] and call["output_path"] == str(tmp_path / "scan_x2.5.png")
    assert Path(call["comparison_path"]).is_file()


def test_ask_refuses_a_file_that_is_not_an_image_as_a_tool_request(
    indexed_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "notes.txt").write_text("my secret notes")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["ask", "enlarge notes.txt 3x", "--json"])
    assert result.exit_code == 1, result.output  # a refused enlargement
    data = json.loads(result.stdout)
    (call,) = data["tool_calls"]
    assert not call["ok"] and call["arguments"] == {"path": "notes.txt", "scale": 3.0}
    kinds = "png, jpg, jpeg, webp, bmp, tif, tiff, gif"
    assert call["error"] == f"I can only enlarge image files ({kinds}): notes.txt is not one"
    assert "secret" not in result.stdout and sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (["cat.png", "3"], {"path": "cat.png", "scale": 3.0}),
        (["cat.png", "2.5x"], {"path": "cat.png", "scale": 2.5}),
        (["my cat.png", "1920x1080"], {"path": "my cat.png", "width": 1920, "height": 1080}),
    ],
)
def test_upscale_command_arguments(arguments: list[str], expected: dict) -> None:
    assert parse_upscale_command(arguments) == expected


@pytest.mark.parametrize("arguments", [[], ["cat.png"], ["cat.png", "big"], ["a.png", "2", "3"]])
def test_bad_upscale_commands_say_how_to_write_them(arguments: list[str]) -> None:
    with pytest.raises(ZoomqaError, match="usage: /upscale PATH SCALE"):
        parse_upscale_command(arguments)


@pytest.mark.parametrize("amount", ["1", "0.5", "0", "-2", "nan", "inf", "1x"])
def test_an_upscale_command_that_would_not_enlarge_says_the_rule(amount: str) -> None:
    with pytest.raises(ZoomqaError, match=f"^scale must be greater than 1, not {amount}$"):
        parse_upscale_command(["cat.png", amount])


def test_piped_input_is_one_message_a_line(chat_home: Path, tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "zoomqa.cli", "chat"],
        input="/k 0\n/k 2\n/sources\n",
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**chat_env(chat_home), "COLUMNS": "200"},
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    output = screen(completed.stdout)
    assert (
        "error: unknown or incomplete command '/k 0'" in output
        and "retrieving 2 models and 2 papers" in output
    )
    assert "no sources yet" in output and output.endswith("bye")
