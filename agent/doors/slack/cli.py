"""``zoomqa slack``: start the Slack bot (the libraries load only when the command runs)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Annotated

import typer

from zoomqa.config import WriterName, get_settings
from zoomqa.errors import ZoomqaError

if TYPE_CHECKING:
    from zoomqa.agent.doors.slack.bot import Transport


def slack(
    socket: Annotated[
        bool,
        typer.Option(
            "--socket", help="Socket Mode: connect out to Slack (SLACK_APP_TOKEN, SLACK_BOT_TOKEN)."
        ),
    ] = False,
    http: Annotated[
        bool,
        typer.Option(
            "--http",
            help="HTTP: serve /slack/events for Slack to call (SLACK_SIGNING_SECRET, SLACK_BOT_TOKEN).",
        ),
    ] = False,
    port: Annotated[int, typer.Option("--port", "-p", min=1, max=65535, help="HTTP port.")] = 3000,
    host: Annotated[str, typer.Option("--host", help="HTTP address to listen on.")] = "0.0.0.0",
    writer: Annotated[
        WriterName | None,
        typer.Option(
            "--writer", "-w", help="Answer writer (default: the measured default).", show_default=False
        ),
    ] = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Log every Slack request (tokens are never logged).")
    ] = False,
) -> None:
    """Answer questions and enlarge pictures in Slack: mentions, direct messages and replies in its threads."""
    if socket == http:
        raise ZoomqaError("choose one transport: zoomqa slack --socket, or zoomqa slack --http --port 3000")
    transport: Transport = "socket" if socket else "http"
    settings = get_settings()
    from zoomqa.agent.doors.slack.bot import agent_responder, quiet_start_up, required_secrets, serve

    required_secrets(settings.slack, transport)  # a missing variable is reported before anything loads
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    quiet_start_up()
    serve(settings, transport, lambda: agent_responder(settings, writer=writer), host=host, port=port)
