"""An :class:`Answer` as terminal Markdown, Slack mrkdwn or JSON.

Renderers only lay out what the answer holds; every link comes from ``Source.links``.
"""

from __future__ import annotations

from zoomqa.agent.answer import Answer, Source, Stage, Statement, Timings

STAGE_NAMES: dict[Stage, str] = {
    "input": "Input",
    "model": "Model",
    "output": "Output",
    "why": "Why you saw that",
}
LINK_NAMES = {"arxiv": "arXiv", "github": "GitHub", "url": "Home page"}


def _cite(statement: Statement) -> str:
    marks = "".join(f"[{n}]" for n in statement.sources)
    return f"{statement.text} {marks}" if marks else statement.text


def _sentences(statements: tuple[Statement, ...]) -> str:
    return " ".join(_cite(s) for s in statements)


def _source_tags(source: Source) -> str:
    tags = [source.kind]
    if source.tool:
        tags.append(f"runs locally: {source.tool}")
    return ", ".join(tags)


def timing_line(answer: Answer) -> str:
    t: Timings = answer.timings
    parts = [f"retrieval {t.retrieval_s:.2f} s", f"writing {t.writing_s:.2f} s"]
    if t.first_token_s is not None:
        parts.insert(1, f"first token {t.first_token_s:.2f} s")
    return f"{t.total_s:.2f} s ({', '.join(parts)})"


def writer_line(answer: Answer) -> str:
    if answer.fallback_reason:
        return (
            f"written by {answer.writer} (the {answer.requested_writer} writer's answer was "
            f"rejected: {answer.fallback_reason})"
        )
    return f"written by {answer.writer}"


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


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def render_slack(answer: Answer) -> str:
    """Slack mrkdwn: *bold*, <url|label> links, escaped user text."""
    if not answer.relevant:
        return "*Nothing relevant found*\n" + _slack_escape(_sentences(answer.task))
    lines = ["*Task*", _slack_escape(_sentences(answer.task)), "", "*How it works*"]
    lines += [
        f"{i}. *{STAGE_NAMES[step.stage]}*: {_slack_escape(_sentences(step.statements))}"
        for i, step in enumerate(answer.steps, 1)
    ]
    lines += ["", "*Papers and tools*"]
    for source in answer.sources:
        links = " · ".join(f"<{url}|{LINK_NAMES.get(k, k)}>" for k, url in source.links.items())
        title = _slack_escape(source.title)
        lines.append(f"[{source.number}] *{title}* ({source.year}; {_source_tags(source)}) {links}")
        lines.append(f"      _{_slack_escape(source.why)}_")
    lines += ["", f"_{_slack_escape(writer_line(answer))} · {timing_line(answer)}_"]
    return "\n".join(lines)


def render_json(answer: Answer) -> str:
    return answer.model_dump_json(indent=2)
