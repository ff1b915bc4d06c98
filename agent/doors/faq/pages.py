"""The FAQ rendered: GitHub-flavoured Markdown, JSON, or one self-contained HTML page."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from zoomqa.agent.doors.faq.entries import NOT_COVERED_TITLE, Faq, anchor, index_line, refusal_reason
from zoomqa.agent.doors.faq.html import render_faq_html
from zoomqa.agent.doors.render import render_markdown, writer_line

SUFFIX_FORMATS = {".md": "md", ".markdown": "md", ".json": "json", ".html": "html", ".htm": "html"}


def faq_json(faq: Faq) -> dict[str, Any]:
    return {
        "entries": [
            {"question": item.group.question, "aliases": list(item.group.aliases), "answer": item.answer}
            for item in faq.entries
        ],
        "not_covered": [
            {
                "question": item.group.question,
                "aliases": list(item.group.aliases),
                "reason": refusal_reason(item.parsed),
                "nearest_topics": list(item.parsed.nearest_topics),
            }
            for item in faq.not_covered
        ],
        "index": faq.index,
        "writer": faq.writer,
    }


def render_faq_markdown(faq: Faq) -> str:
    """GitHub-flavoured Markdown: a contents list, one section per entry, then what is not covered."""
    taken: set[str] = set()
    entries = [(item, anchor(item.group.question, taken)) for item in faq.entries]
    missing = anchor(NOT_COVERED_TITLE, taken) if faq.not_covered else None
    lines = ["# Frequently asked questions", "", f"*{index_line(faq)}*", "", "## Contents", ""]
    lines += [f"- [{_md_text(item.group.question)}](#{slug})" for item, slug in entries]
    if missing:
        lines.append(f"- [{NOT_COVERED_TITLE}](#{missing}) ({len(faq.not_covered)})")
    for item, _ in entries:
        lines += ["", f"## {_md_text(item.group.question)}", ""]
        if item.group.aliases:
            lines += ["Also asked as: " + "; ".join(f"*{_md_text(a)}*" for a in item.group.aliases), ""]
        answer = item.parsed
        lines += [render_markdown(answer), "", f"<sub>{writer_line(answer)}</sub>"]
    if missing:
        lines += [
            "",
            f"## {NOT_COVERED_TITLE}",
            "",
            "The index holds nothing that answers these; no answer is made up.",
            "",
        ]
        for item in faq.not_covered:
            phrasings = "; ".join(_md_text(q) for q in (item.group.question, *item.group.aliases))
            lines.append(f"- **{phrasings}**  \n  {_md_text(refusal_reason(item.parsed))}")
    return "\n".join(lines) + "\n"


def _md_text(text: str) -> str:
    """User text safe inside Markdown: no HTML, links or emphasis of its own."""
    return re.sub(r"([\\`*_\[\]<>#|])", r"\\\1", " ".join(text.split()))


def render_faq(faq: Faq, fmt: str) -> str:
    """The FAQ as ``md``, ``json`` or ``html``."""
    if fmt == "json":
        return json.dumps(faq_json(faq), indent=2, ensure_ascii=False) + "\n"
    if fmt == "html":
        return render_faq_html(faq)
    return render_faq_markdown(faq)


def output_format(fmt: str | None, output: Path | None) -> str:
    """The format asked for, else the one the output file's suffix names, else Markdown."""
    if fmt is not None:
        return fmt
    return SUFFIX_FORMATS.get(output.suffix.lower(), "md") if output is not None else "md"
