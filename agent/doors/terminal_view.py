"""A reply in the terminal: the streamed draft and upscale progress while it is made, then the
answer as Markdown with its small print (shared by ``ask`` and ``chat``)."""

from __future__ import annotations

from collections.abc import Callable

from rich.console import Console, Group
from rich.live import Live
from rich.markdown import Markdown
from rich.markup import escape
from rich.progress_bar import ProgressBar
from rich.text import Text

from zoomqa.agent.doors.render import render_markdown, timing_line, writer_line
from zoomqa.agent.turn.assistant import Assistant, Reply

# Upscales this large (output pixels) show a progress bar; smaller ones take about a second.
PROGRESS_FROM_PIXELS = 1_000_000


def respond_live(console: Console, run: Callable[..., Reply]) -> Reply:
    """Call ``run(on_token=..., on_progress=...)`` while showing the streamed draft and any upscale's progress."""
    streamed: list[str] = []
    with Live(console=console, transient=True, refresh_per_second=8) as live:

        def progress(done: int, total: int) -> None:
            if total >= PROGRESS_FROM_PIXELS:
                bar = ProgressBar(total=total, completed=done, width=40)
                live.update(Group(Text(f"enlarging the picture: {done / total:.0%}"), bar))

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


def print_notices(console: Console, assistant: Assistant) -> None:
    """The assistant's notices (a stale index), one line each, before any answer."""
    for notice in assistant.notices():
        console.print(f"[yellow]note:[/] {escape(notice)}", soft_wrap=True, highlight=False)
