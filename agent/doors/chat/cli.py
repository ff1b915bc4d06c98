"""``zoomqa chat``: the command (the assistant and prompt_toolkit load only when it runs)."""

from __future__ import annotations

from rich.console import Console

from zoomqa.agent.doors.options import KOption, ModelOption, WriterOption, here_and_configured
from zoomqa.config import get_settings


def chat(
    writer: WriterOption = None,
    model: ModelOption = None,
    k: KOption = None,
) -> None:
    """Talk about image super-resolution in the terminal; ask it to enlarge pictures in this folder."""
    from zoomqa.agent.doors.chat.session import run_chat
    from zoomqa.agent.doors.terminal_view import print_notices
    from zoomqa.agent.turn.assistant import Assistant

    settings = get_settings()
    with Assistant.from_settings(
        settings, writer=writer, model=model, k=k, allowed_dirs=here_and_configured(settings)
    ) as assistant:
        print_notices(Console(stderr=True), assistant)
        run_chat(assistant, settings, Console())
