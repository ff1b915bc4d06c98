"""The FAQ as one self-contained HTML page: inline CSS, no scripts, fonts or images.

A Content-Security-Policy in the page itself forbids every fetch, so even a later edit cannot
make it load something from the network. Every text is escaped by Jinja's autoescape.
"""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, StrictUndefined
from markupsafe import Markup, escape

from zoomqa.agent.compose.answer import Statement
from zoomqa.agent.doors.faq.entries import NOT_COVERED_TITLE, Faq, anchor, index_line, refusal_reason
from zoomqa.agent.doors.render import LINK_NAMES, STAGE_NAMES, writer_line

PAGE = """\
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>Frequently asked questions</title>
<style>
:root { color-scheme: light; --ink: #1f2328; --muted: #59636e; --line: #d1d9e0; --link: #0b57d0; --soft: #f6f8fa; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--ink); background: #fff;
  font: 16px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 46rem; margin: 0 auto; padding: 1.25rem 1rem 3rem; }
h1 { font-size: 1.7rem; line-height: 1.25; margin: 0.5rem 0; }
h2 { font-size: 1.3rem; line-height: 1.3; margin: 0 0 0.5rem; }
h3 { font-size: 0.8rem; text-transform: uppercase; letter-spacing: 0.06em; color: var(--muted); margin: 1.1rem 0 0.3rem; }
a { color: var(--link); overflow-wrap: anywhere; }
.meta, .aliases, .written { color: var(--muted); font-size: 0.9rem; }
nav { background: var(--soft); border: 1px solid var(--line); border-radius: 8px; padding: 0.75rem 1rem; margin: 1rem 0 1.5rem; }
nav h2 { font-size: 1rem; margin: 0 0 0.4rem; }
nav ol { margin: 0; padding-left: 1.4rem; }
nav li { margin: 0.25rem 0; }
article { border-top: 1px solid var(--line); padding: 1.25rem 0 0.5rem; scroll-margin-top: 0.5rem; }
article p, article li { overflow-wrap: anywhere; }
ol.steps { padding-left: 1.4rem; }
ol.steps li { margin: 0.3rem 0; }
ol.sources { list-style: none; padding: 0; }
ol.sources li { margin: 0.5rem 0; padding: 0.5rem 0.75rem; background: var(--soft); border-radius: 6px; }
ol.sources li:target { outline: 2px solid var(--link); }
.why { display: block; font-style: italic; color: var(--muted); font-size: 0.92rem; }
.cite { font-size: 0.8rem; vertical-align: super; text-decoration: none; }
#not-covered li { margin: 0.6rem 0; }
</style>
</head>
<body>
<main>
<h1>Frequently asked questions</h1>
<p class="meta">{{ index_line }}</p>
<nav aria-label="Contents">
<h2>Contents</h2>
<ol>
{% for entry in entries %}
<li><a href="#{{ entry.id }}">{{ entry.question }}</a></li>
{% endfor %}
{% if not_covered %}
<li><a href="#{{ not_covered_id }}">{{ not_covered_title }}</a> ({{ not_covered|length }})</li>
{% endif %}
</ol>
</nav>
{% for entry in entries %}
<article id="{{ entry.id }}">
<h2>{{ entry.question }}</h2>
{% if entry.aliases %}
<p class="aliases">Also asked as: {{ entry.aliases|join("; ") }}</p>
{% endif %}
<h3>Task</h3>
<p>{% for s in entry.answer.task %}{{ s.text }}{{ cite(entry, s) }} {% endfor %}</p>
<h3>How it works</h3>
<ol class="steps">
{% for step in entry.answer.steps %}
<li><strong>{{ stage_names[step.stage] }}</strong>: {% for s in step.statements %}{{ s.text }}{{ cite(entry, s) }} {% endfor %}</li>
{% endfor %}
</ol>
<h3>Papers and tools</h3>
<ol class="sources">
{% for source in entry.answer.sources %}
<li id="{{ entry.id }}-source-{{ source.number }}">[{{ source.number }}] <strong>{{ source.title }}</strong>
({{ source.year }}; {{ source.kind }}{% if source.tool %}, runs locally: {{ source.tool }}{% endif %})
{% for kind, url in source.links.items() %}{% if not loop.first %} · {% endif %}<a href="{{ url }}">{{ link_names.get(kind, kind) }}</a>{% endfor %}
<span class="why">{{ source.why }}</span></li>
{% endfor %}
</ol>
<p class="written">{{ entry.written }}</p>
</article>
{% endfor %}
{% if not_covered %}
<article id="{{ not_covered_id }}">
<h2>{{ not_covered_title }}</h2>
<p>The index holds nothing that answers these; no answer is made up.</p>
<ul>
{% for item in not_covered %}
<li><strong>{{ item.phrasings|join("; ") }}</strong><br>{{ item.reason }}</li>
{% endfor %}
</ul>
</article>
{% endif %}
</main>
</body>
</html>
"""

_ENV = Environment(autoescape=True, undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def _cite(entry: dict[str, Any], statement: Statement) -> Markup:
    """``[n]`` marks that jump to source n of the same entry."""
    links = "".join(
        f'<a class="cite" href="#{escape(entry["id"])}-source-{n}">[{n}]</a>' for n in statement.sources
    )
    return Markup(f" {links}") if links else Markup("")


def render_faq_html(faq: Faq) -> str:
    """The page; anchors are the same as the Markdown version's, so links work in both."""
    taken: set[str] = set()
    entries = [
        {
            "id": anchor(item.group.question, taken),
            "question": item.group.question,
            "aliases": item.group.aliases,
            "answer": item.parsed,
            "written": writer_line(item.parsed),
        }
        for item in faq.entries
    ]
    missing = [
        {"phrasings": (item.group.question, *item.group.aliases), "reason": refusal_reason(item.parsed)}
        for item in faq.not_covered
    ]
    return _ENV.from_string(PAGE).render(
        index_line=index_line(faq),
        entries=entries,
        not_covered=missing,
        not_covered_id=anchor(NOT_COVERED_TITLE, taken),
        not_covered_title=NOT_COVERED_TITLE,
        stage_names=STAGE_NAMES,
        link_names=LINK_NAMES,
        cite=_cite,
    )
