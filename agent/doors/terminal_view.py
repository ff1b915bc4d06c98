"""A reply in the terminal: the streamed draft and upscale progress while it is made, then the
answer as Markdown with its small print (shared by ``ask`` and ``chat``)."""

from __future__ import annotations

import time
from collections.abc import Callable

from rich.console import Console, Group
from rich.live import Live
from rich.markdown import Markdown
from rich.markup import escape
from rich.progress_bar import ProgressBar
from rich.spinner import Spinner
from rich.text import Text

from zoomqa.agent.compose.answer import Answer
from zoomqa.agent.doors.render import render_markdown, timing_line, writer_line
from zoomqa.agent.llm.failures import is_offline_note
from zoomqa.agent.turn.assistant import Assistant, Reply

# An enlargement shows its bar once it has run this long, or is expected to run longer.
PROGRESS_AFTER_S = 1.0


def _eta(done: int, total: int, elapsed: float) -> str:
    if not done or elapsed < PROGRESS_AFTER_S / 2:
        return ""
    left = elapsed * (total - done) / done
    return f" · about {left:.0f} s left" if left >= 1 else ""


def respond_live(console: Console, run: Callable[..., Reply]) -> Reply:
    """Call ``run(on_token=..., on_progress=...)`` while showing a spinner, then the streamed
    draft, and the progress of an enlargement with the time it has left."""
    streamed: list[str] = []
    started: list[float] = []
    with Live(Spinner("dots", "looking through the papers…"), console=console, transient=True) as live:

        def progress(done: int, total: int) -> None:
            now = time.perf_counter()
            if not started:
                started.append(now)
            elapsed = now - started[0]
            expected = elapsed * total / done if done else 0.0
            if elapsed >= PROGRESS_AFTER_S or expected >= PROGRESS_AFTER_S:
                bar = ProgressBar(total=total, completed=done, width=40)
                text = f"enlarging the picture: {done / total:.0%}{_eta(done, total, elapsed)}"
                live.update(Group(Text(text), bar))

        def token(text: str) -> None:
            streamed.append(text)
            live.update(Markdown("".join(streamed)))

        return run(on_token=token, on_progress=progress)


def print_reply(console: Console, reply: Reply) -> None:
    """The answer as Markdown, then the small print: writer, guard, timing. Rendered for a
    terminal; written as plain Markdown, unwrapped, when the output is a file or a pipe."""
    answer = reply.answer
    removed = len(answer.guard_notes)
    notes = f"; the grounding guard removed {removed} item(s)" if removed else ""
    small_print = f"{writer_line(answer)}{notes} · {timing_line(answer)}"
    if not console.is_terminal:
        console.out(f"{render_markdown(answer)}\n\n*{small_print}*", highlight=False)
        return
    console.print(Markdown(render_markdown(answer)))
    console.print(f"[dim]{escape(small_print)}[/]", highlight=False)


def print_model_note(console: Console, answer: Answer) -> None:
    """When the model failed and the answer is the offline one, say why in one unwrapped line."""
    if is_offline_note(answer.fallback_reason):
        console.print(
            f"[yellow]note:[/] {escape(str(answer.fallback_reason))}", soft_wrap=True, highlight=False
        )


def print_notices(console: Console, assistant: Assistant) -> None:
    """The assistant's notices (a stale index), one line each, before any answer."""
    for notice in assistant.notices():
        console.print(f"[yellow]note:[/] {escape(notice)}", soft_wrap=True, highlight=False)
