"""An :class:`Answer` as terminal Markdown, Slack mrkdwn (text or Block Kit) or JSON.

Renderers only lay out what the answer holds; every link comes from ``Source.links``.
"""

from __future__ import annotations

from zoomqa.agent.compose.answer import Answer, Source, Stage, Statement, Timings
from zoomqa.agent.llm.failures import is_offline_note

STAGE_NAMES: dict[Stage, str] = {
    "input": "Input",
    "model": "Model",
    "output": "Output",
    "why": "What answers your question",
}
LINK_NAMES = {"arxiv": "arXiv", "github": "GitHub", "url": "Home page"}


def _cite(statement: Statement) -> str:
    marks = "".join(f"[{n}]" for n in statement.sources)
    return f"{statement.text} {marks}" if marks else statement.text


def _sentences(statements: tuple[Statement, ...]) -> str:
    return " ".join(_cite(s) for s in statements)


def _source_tags(source: Source) -> str:
    tags: list[str] = [source.kind]
    if source.tool:
        tags.append(f"runs locally: {source.tool}")
    return ", ".join(tags)


def timing_line(answer: Answer) -> str:
    t: Timings = answer.timings
    parts = [f"retrieval {t.retrieval_s:.2f} s", f"writing {t.writing_s:.2f} s"]
    if t.first_token_s is not None:
        parts.insert(1, f"first token {t.first_token_s:.2f} s")
    if t.tool_s:
        parts.insert(0, f"enlarging {t.tool_s:.2f} s")
    return f"{t.total_s:.2f} s ({', '.join(parts)})"


def writer_line(answer: Answer) -> str:
    """Who wrote the answer and, when it is not what was asked for, why: the model's own answer
    with a note (its translation failed), the offline answer after the model failed, or the
    offline answer because the guard rejected the model's."""
    reason = answer.fallback_reason
    if not reason:
        return f"written by {answer.writer}"
    if answer.writer == answer.requested_writer:
        return f"written by {answer.writer} ({reason})"
    if is_offline_note(reason):
        return f"written by {answer.writer} (the {answer.requested_writer} writer failed: {reason})"
    return (
        f"written by {answer.writer} (the {answer.requested_writer} writer's answer was rejected: {reason})"
    )


def render_markdown(answer: Answer) -> str:
    """Markdown for the terminal (rich) and for files such as the FAQ."""
    if not answer.relevant:
        return "### Nothing relevant found\n\n" + _sentences(answer.task)
    lines = ["### Task", "", _sentences(answer.task), "", "### How it works", ""]
    lines += [
        f"{i}. **{STAGE_NAMES[step.stage]}**: {_sentences(step.statements)}"
        for i, step in enumerate(answer.steps, 1)
    ]
    lines += ["", "### Papers and tools", ""]
    for source in answer.sources:
        links = " · ".join(f"{LINK_NAMES.get(k, k)} {url}" for k, url in source.links.items())
        lines.append(f"- **[{source.number}] {source.title}** ({source.year}; {_source_tags(source)})  ")
        lines.append(f"  {links}  \n  *{source.why}*")
    return "\n".join(lines)


def slack_escape(text: str) -> str:
    """Text as Slack shows it literally: no links, mentions or formatting from user text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _slack_parts(answer: Answer) -> list[str]:
    """The answer's parts in Slack mrkdwn (*bold*, <url|label> links, escaped user text)."""
    if not answer.relevant:
        return ["*Nothing relevant found*\n" + slack_escape(_sentences(answer.task))]
    how = ["*How it works*"] + [
        f"{i}. *{STAGE_NAMES[step.stage]}*: {slack_escape(_sentences(step.statements))}"
        for i, step in enumerate(answer.steps, 1)
    ]
    papers = ["*Papers and tools*"]
    for source in answer.sources:
        links = " · ".join(f"<{url}|{LINK_NAMES.get(k, k)}>" for k, url in source.links.items())
        title = slack_escape(source.title)
        papers.append(f"[{source.number}] *{title}* ({source.year}; {_source_tags(source)}) {links}")
        papers.append(f"      _{slack_escape(source.why)}_")
    return ["*Task*\n" + slack_escape(_sentences(answer.task)), "\n".join(how), "\n".join(papers)]


def slack_context(answer: Answer) -> str:
    """The writer and the timing, for the small print under a Slack answer."""
    return f"{slack_escape(writer_line(answer))} · {timing_line(answer)}"


def render_slack(answer: Answer) -> str:
    """Slack mrkdwn as one text: the parts, then the writer and timing in italics."""
    parts = _slack_parts(answer)
    return "\n\n".join(parts if not answer.relevant else [*parts, f"_{slack_context(answer)}_"])


SLACK_SECTION_CHARS = 3000  # Block Kit's limit for one section's text


def _sections(part: str) -> list[str]:
    """A part cut at line ends into pieces that each fit one section."""
    pieces, current = [], ""
    for line in part.split("\n"):
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > SLACK_SECTION_CHARS and current:
            pieces.append(current)
            candidate = line
        current = candidate[:SLACK_SECTION_CHARS]
    return [*pieces, current]


def render_slack_blocks(answer: Answer) -> list[dict[str, object]]:
    """Block Kit: a section per part, a divider before the sources, a context line with writer and timing."""
    blocks: list[dict[str, object]] = []
    for i, part in enumerate(_slack_parts(answer)):
        if i == 2:
            blocks.append({"type": "divider"})
        blocks += [{"type": "section", "text": {"type": "mrkdwn", "text": text}} for text in _sections(part)]
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": slack_context(answer)}]})
    return blocks


def render_json(answer: Answer) -> str:
    return answer.model_dump_json(indent=2)
