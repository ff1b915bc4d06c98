"""The terminal conversation: reading lines, slash commands, streaming replies, the history file.

Enter sends, Esc Enter (Alt-Enter) starts a new line; earlier messages come back with the up
arrow (a history file in the data directory). Ctrl-C stops the answer being written or the
picture being enlarged and keeps the chat; a stopped turn is forgotten, so the next follow-up
does not build on it. Ctrl-D or ``/exit`` leaves. A mistake (a missing file, a server that is
down, a writer that cannot load, a bad command) prints one line and the chat goes on.
"""

from __future__ import annotations

import shlex
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape

from zoomqa.agent.doors.render import render_markdown
from zoomqa.agent.doors.terminal_view import print_model_note, print_reply, respond_live
from zoomqa.agent.turn.assistant import Assistant, Reply, build_answerer
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
    """``PATH SCALE`` or ``PATH WxH`` as the tool's arguments, or ZoomqaError with the usage
    (or, for a number no enlargement has, with the rule: the scale must be greater than 1)."""
    import math

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
    if not (math.isfinite(scale) and scale > 1):
        raise ZoomqaError(f"scale must be greater than 1, not {amount}")
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
    turns: list[Turn] = field(default_factory=list)  # completed turns only
    transcript: list[str] = field(default_factory=list)
    last: Reply | None = None
    interrupted: threading.Event = field(default_factory=threading.Event)  # Ctrl-C during this turn

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

    def on_ctrl_c(self, signum: int, frame: object) -> None:
        """The SIGINT handler while the chat runs: stop the turn in progress.

        The flag is also checked at every streamed token and every enlarged chunk, so a press
        whose KeyboardInterrupt is lost inside a library still stops the turn.
        """
        self.interrupted.set()
        raise KeyboardInterrupt

    def _turn(self, run: Callable[..., Reply]) -> Reply:
        """Run one turn with the live view; KeyboardInterrupt when Ctrl-C was pressed meanwhile."""
        self.interrupted.clear()

        def checked(hook: Callable[..., None]) -> Callable[..., None]:
            def call(*args: object) -> None:
                if self.interrupted.is_set():
                    raise KeyboardInterrupt
                hook(*args)

            return call

        reply = respond_live(
            self.console,
            lambda on_token, on_progress: run(on_token=checked(on_token), on_progress=checked(on_progress)),
        )
        if self.interrupted.is_set():
            raise KeyboardInterrupt
        return reply

    def ask(self, message: str) -> None:
        history = list(self.turns)
        reply = self._turn(lambda **hooks: self.assistant.respond(message, history=history, **hooks))
        if reply.condensed_question != message:  # say how a follow-up or an upscale request was read
            self.console.print(f"[dim]searched for: {escape(reply.condensed_question)}[/]", highlight=False)
        self._show(message, reply)

    def _show(self, message: str, reply: Reply) -> None:
        """Print the reply, then remember the turn: only a turn shown to the end is part of the
        conversation (a cancelled one never reaches here)."""
        print_reply(self.console, reply)
        print_model_note(self.console, reply.answer)
        self.last = reply
        self.turns += [Turn(role="user", text=message), Turn(role="assistant", text=reply_text(reply))]
        self.transcript += [f"## You\n\n{message}", f"## zoomqa\n\n{render_markdown(reply.answer)}"]

    def use_writer(self, name: str) -> None:
        """Switch to the writer ``name`` once it is built and its model loads; otherwise say why
        in one line and keep the current writer."""
        current = self.assistant.writer_name
        try:
            answerer = build_answerer(self.settings, name, None, self.assistant.retriever.embedder)
            _load_model(answerer.writer)
        except (ZoomqaError, ValidationError, OSError) as exc:
            why = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else str(exc)
            raise ZoomqaError(
                f"cannot use the {name} writer: {why.rstrip('.')}; still writing with {current}"
            ) from None
        self.assistant.use_answerer(answerer)
        self.console.print(f"writer: {self.assistant.writer_name}", highlight=False)

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
            reply = self._turn(lambda **hooks: self.assistant.run_request(request, **hooks))
            self._show(text, reply)
        elif name == "/writer" and len(arguments) == 1:
            self.use_writer(arguments[0])
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


def _load_model(writer: object) -> None:
    """Load the writer's in-process model now (the local GGUF file: found, hash-checked,
    readable by llama.cpp), so that a bad one is refused before the chat switches to it. An
    OpenAI-compatible client is built with its settings; its server is only asked when answering."""
    from zoomqa.agent.llm.llama_cpp_chat import LlamaCppChatModel, load_gguf

    model = getattr(writer, "model", None)
    if isinstance(model, LlamaCppChatModel):
        load_gguf(model.model_path, model.threads)


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
    # Ctrl-C is how a person stops a turn, so a terminal chat takes SIGINT itself: a shell that
    # started it in the background (a script's `cmd &`) leaves SIGINT ignored, and Python then
    # never raises KeyboardInterrupt. prompt_toolkit handles Ctrl-C at the prompt and puts this
    # handler back after each line. Piped input keeps what the shell chose.
    interactive = sys.stdin.isatty()
    previous = signal.signal(signal.SIGINT, session.on_ctrl_c) if interactive else None
    try:
        while True:
            try:
                line = read("you> ")
            except KeyboardInterrupt:
                continue
            except EOFError:
                break
            try:
                if not session.handle(line):
                    break
            except KeyboardInterrupt:  # pressed while a message was printed
                console.print("[yellow]cancelled[/]")
    finally:
        if interactive:
            signal.signal(signal.SIGINT, signal.default_int_handler if previous is None else previous)
    console.print("bye", highlight=False)
