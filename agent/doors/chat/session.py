"""The terminal conversation: reading lines, slash commands, streaming replies, the history file.

Enter sends, Esc Enter (Alt-Enter) starts a new line; earlier messages come back with the up
arrow (a history file in the data directory). Ctrl-C stops the answer being written and
keeps the chat; Ctrl-D or ``/exit`` leaves. A mistake (a missing file, a server that is
down, a bad command) prints one line and the chat goes on.
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape

from zoomqa.agent.doors.render import render_markdown
from zoomqa.agent.doors.terminal_view import print_reply, respond_live
from zoomqa.agent.turn.assistant import Assistant, Reply
from zoomqa.agent.turn.history import Turn
from zoomqa.config import Settings
from zoomqa.errors import ZoomqaError
from zoomqa.files import write_text_atomic

HISTORY_FILE = "chat_history.txt"  # in Settings.home
HELP = """\
Ask about image super-resolution, or ask me to enlarge a picture in this folder ("upscale cat.png 3x").
Enter sends · Esc Enter (Alt-Enter) adds a new line · Ctrl-C stops an answer · Ctrl-D leaves

  /help                     this text
  /sources                  the last answer's sources with their retrieval scores
  /upscale PATH SCALE|WxH   enlarge a picture, e.g. /upscale cat.png 3 or /upscale cat.png 1920x1080
  /writer NAME              extractive, local or openai
  /k N                      how many models and papers to retrieve (each)
  /clear                    forget the conversation
  /save FILE                write the conversation as Markdown
  /exit                     leave"""


def reply_text(reply: Reply) -> str:
    """What the conversation remembers of a reply: its sentences, without the source list."""
    return " ".join(s.text for s in reply.answer.statements)


def parse_upscale_command(arguments: list[str]) -> dict[str, str | float | int]:
    """``PATH SCALE`` or ``PATH WxH`` as the tool's arguments, or ZoomqaError with the usage."""
    from zoomqa.agent.understand.sizes import MIN_SIDE, parse_size

    usage = "usage: /upscale PATH SCALE|WxH, e.g. /upscale cat.png 3 or /upscale cat.png 1920x1080"
    if len(arguments) != 2:
        raise ZoomqaError(usage)
    path, amount = arguments
    size = parse_size(amount)
    if size is not None and size[0] is not None and size[1] is not None:
        return {"path": path, "width": size[0], "height": size[1]}
    try:
        scale = float(amount.lower().strip("x×"))
    except ValueError:
        raise ZoomqaError(
            f"'{amount}' is neither a scale nor WxH (sides of at least {MIN_SIDE}); {usage}"
        ) from None
    return {"path": path, "scale": scale}


def _write_new(path: Path, text: str) -> None:
    """Write ``text`` to a new file (atomically); an existing file is never replaced."""
    if path.exists() or path.is_symlink():
        raise ZoomqaError(f"{path} already exists; choose another file name")
    if not path.parent.is_dir():
        raise ZoomqaError(f"cannot write {path}: the folder {path.parent} does not exist")
    try:
        write_text_atomic(path, text, replace=False)
    except FileExistsError:
        raise ZoomqaError(f"{path} already exists; choose another file name") from None


@dataclass
class ChatSession:
    """The state of one chat: the conversation, the transcript and the last reply."""

    assistant: Assistant
    settings: Settings
    console: Console
    turns: list[Turn] = field(default_factory=list)
    transcript: list[str] = field(default_factory=list)
    last: Reply | None = None

    def banner(self) -> str:
        manifest = self.assistant.retriever.manifest
        writer = self.assistant.answerer.writer
        model = getattr(writer, "model_name", None)
        upscale = self.assistant.upscale
        return (
            f"zoomqa chat · writer {writer.name}{f' ({model})' if model else ''} · index {manifest.count} records "
            f"({manifest.embedder.split('@')[0]}) · upscaler {upscale.model} (device {upscale.device})\n"
            "Type /help for commands, Ctrl-D to leave."
        )

    def handle(self, line: str) -> bool:
        """Act on one input; False when the chat should end."""
        text = line.strip()
        if not text:
            return True
        try:
            if text.startswith("/"):
                return self.command(text)
            self.ask(text)
        except KeyboardInterrupt:
            self.console.print("[yellow]cancelled[/]")
        except ZoomqaError as exc:
            self.console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
        except ValidationError as exc:
            self.console.print(f"[bold red]error:[/] {escape(exc.errors()[0]['msg'])}", highlight=False)
        except OSError as exc:
            where = f": {exc.filename}" if exc.filename else ""
            self.console.print(
                f"[bold red]error:[/] {escape(str(exc.strerror or exc))}{where}", highlight=False
            )
        return True

    def ask(self, message: str) -> None:
        history = list(self.turns)
        reply = respond_live(
            self.console, lambda **hooks: self.assistant.respond(message, history=history, **hooks)
        )
        if reply.condensed_question != message:  # say how a follow-up or an upscale request was read
            self.console.print(f"[dim]searched for: {escape(reply.condensed_question)}[/]", highlight=False)
        self._show(message, reply)

    def _show(self, message: str, reply: Reply) -> None:
        print_reply(self.console, reply)
        self.last = reply
        self.turns += [Turn(role="user", text=message), Turn(role="assistant", text=reply_text(reply))]
        self.transcript += [f"## You\n\n{message}", f"## zoomqa\n\n{render_markdown(reply.answer)}"]

    def command(self, text: str) -> bool:
        name, *arguments = shlex.split(text)
        if name in ("/exit", "/quit"):
            return False
        if name == "/help":
            self.console.print(HELP, highlight=False, markup=False)
        elif name == "/sources":
            self.sources()
        elif name == "/upscale":
            request = parse_upscale_command(arguments)
            reply = respond_live(self.console, lambda **hooks: self.assistant.run_request(request, **hooks))
            self._show(text, reply)
        elif name == "/writer" and len(arguments) == 1:
            self.assistant.use_writer(self.settings, arguments[0])
            self.console.print(f"writer: {self.assistant.writer_name}", highlight=False)
        elif (
            name == "/k" and len(arguments) == 1 and arguments[0].isdigit() and 1 <= int(arguments[0]) <= 100
        ):
            self.assistant.k = int(arguments[0])
            self.console.print(
                f"retrieving {self.assistant.k} models and {self.assistant.k} papers", highlight=False
            )
        elif name == "/clear":
            self.turns, self.last = [], None
            self.console.print("conversation cleared (the transcript for /save is kept)", highlight=False)
        elif name == "/save" and len(arguments) == 1:
            path = Path(arguments[0]).expanduser()
            _write_new(path, "# zoomqa chat\n\n" + "\n\n".join(self.transcript) + "\n")
            self.console.print(f"saved the conversation to {escape(str(path))}", highlight=False)
        else:
            raise ZoomqaError(f"unknown or incomplete command {text!r}; /help lists the commands")
        return True

    def sources(self) -> None:
        if self.last is None or not self.last.answer.sources:
            self.console.print("no sources yet: ask a question first", highlight=False)
            return
        for source in self.last.answer.sources:
            score = self.last.scores.get(source.id)
            links = " · ".join(source.links.values())
            self.console.print(
                f"[{source.number}] {escape(source.title)} ({source.kind}, {source.year}) "
                f"score {'-' if score is None else f'{score:.3f}'}  {links}",
                highlight=False,
            )


def _key_bindings():  # prompt_toolkit's KeyBindings, imported here to keep start-up fast
    from prompt_toolkit.key_binding import KeyBindings

    bindings = KeyBindings()

    @bindings.add("escape", "enter")
    def _newline(event) -> None:
        event.current_buffer.insert_text("\n")

    return bindings


def _piped_line(prompt: str) -> str:
    """One message a line when the input is not a terminal (``zoomqa chat < questions.txt``)."""
    line = sys.stdin.readline()
    if not line:
        raise EOFError
    return line


def run_chat(assistant: Assistant, settings: Settings, console: Console) -> None:
    """The read-answer loop until Ctrl-D or /exit."""
    from prompt_toolkit import PromptSession
    from prompt_toolkit.history import FileHistory

    read: Callable[[str], str] = _piped_line
    if sys.stdin.isatty():
        settings.home.mkdir(parents=True, exist_ok=True)
        read = PromptSession(
            history=FileHistory(str(settings.home / HISTORY_FILE)),
            key_bindings=_key_bindings(),
            multiline=False,
            prompt_continuation="… ",
        ).prompt
    session = ChatSession(assistant, settings, console)
    console.print(session.banner(), highlight=False)
    while True:
        try:
            line = read("you> ")
        except KeyboardInterrupt:
            continue
        except EOFError:
            break
        if not session.handle(line):
            break
    console.print("bye", highlight=False)
