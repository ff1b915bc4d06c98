"""``zoomqa ask``: one question from the command line, answered (and any picture enlarged).

Heavy libraries (faiss, langchain, llama_cpp, torch for an upscale) are imported inside the
command so that ``zoomqa --help`` stays fast, and only after the question has been checked: an
empty or oversized one is refused at once.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console

from zoomqa.agent.doors.options import JsonOption, KOption, ModelOption, WriterOption, here_and_configured
from zoomqa.config import get_settings
from zoomqa.index.question_limits import check_question

out = Console()


def ask(
    question: Annotated[str, typer.Argument(help="Your question, in plain words.", show_default=False)],
    writer: WriterOption = None,
    model: ModelOption = None,
    k: KOption = None,
    as_json: JsonOption = False,
) -> None:
    """Answer a question about image super-resolution from the local index, with sources.

    A request such as "upscale cat.png 3x" also enlarges the picture (in the current folder or
    the configured upscale.allowed_dirs) and reports the result inside the answer; the exit
    status is 1 when a requested enlargement was refused or failed. When the model's server
    fails or is too slow, the answer is the offline one, with a note on why (exit status 0).
    """
    check_question(question)  # the search's own limits, before the index, embedder and writer load

    from zoomqa.agent.doors.terminal_view import print_model_note, print_notices, print_reply, respond_live
    from zoomqa.agent.turn.assistant import Assistant

    settings = get_settings()
    with Assistant.from_settings(
        settings, writer=writer, model=model, k=k, allowed_dirs=here_and_configured(settings)
    ) as assistant:
        err = Console(stderr=True)
        print_notices(err, assistant)
        if as_json:
            reply = assistant.respond(question)
            typer.echo(json.dumps(reply.as_json(), indent=2))
        else:
            reply = respond_live(out, lambda **hooks: assistant.respond(question, **hooks))
            print_reply(out, reply)
        print_model_note(err, reply.answer)
    if any(not call.ok for call in reply.tool_calls):
        raise typer.Exit(code=1)
