"""Fetching papers from the arXiv API (the ``arxiv`` package) as index records."""

from __future__ import annotations

import re
from collections.abc import Iterable

import arxiv
import requests

from zoomqa.errors import ZoomqaError
from zoomqa.index.records import GITHUB_REPO, Record, normalise_arxiv_id

ARXIV_API_SOURCE = "arxiv-api"
MAX_RESULTS = 1000
_GITHUB_IN_TEXT = re.compile(r"https?://github\.com/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")


def record_from_result(result: arxiv.Result) -> Record:
    """A paper record (id ``arxiv:<id>``); a GitHub link in the authors' comment becomes ``github``."""
    arxiv_id = normalise_arxiv_id(result.get_short_id())
    found = _GITHUB_IN_TEXT.findall(result.comment or "")
    github = next((g.rstrip(".") for g in found if GITHUB_REPO.match(g.rstrip("."))), None)
    return Record(
        id=f"arxiv:{arxiv_id}",
        kind="paper",
        title=" ".join(result.title.split()),
        authors=[a.name for a in result.authors if a.name.strip()] or ["unknown"],
        year=result.published.year,
        arxiv_id=arxiv_id,
        github=github,
        venue=result.journal_ref or None,
        summary=" ".join(result.summary.split()),
    )


def fetch_papers(
    *,
    ids: Iterable[str] = (),
    query: str | None = None,
    max_results: int = 50,
    api_url: str,
    delay_s: float = 3.0,
) -> list[Record]:
    """Papers by arXiv id or by an arXiv search query; ZoomqaError when arXiv cannot be reached or finds nothing."""
    try:
        id_list = [normalise_arxiv_id(i) for i in ids]
    except ValueError as exc:
        raise ZoomqaError(f"{exc}; give ids like 2012.09161") from None
    if bool(id_list) == bool(query):
        raise ZoomqaError("give either --id (one or more) or --query")
    if not 1 <= max_results <= MAX_RESULTS:
        raise ZoomqaError(f"--max must be between 1 and {MAX_RESULTS}")
    client = arxiv.Client(page_size=min(max_results, 100), delay_seconds=delay_s, num_retries=2)
    client.query_url_format = api_url + "?{}"
    search = arxiv.Search(query=query or "", id_list=id_list, max_results=len(id_list) or max_results)
    try:
        results = list(client.results(search))
    except arxiv.HTTPError as exc:
        raise ZoomqaError(f"the arXiv API at {api_url} answered HTTP {exc.status}; try again later") from None
    except (arxiv.ArxivError, requests.RequestException) as exc:
        raise ZoomqaError(
            f"cannot reach the arXiv API at {api_url} ({type(exc).__name__}); check the network"
        ) from None
    records = []
    for result in results:
        try:
            records.append(record_from_result(result))
        except ValueError as exc:  # pydantic ValidationError is a ValueError
            raise ZoomqaError(
                f"arXiv returned an entry zoomqa cannot use ({result.entry_id}): {exc}"
            ) from None
    if not records:
        wanted = ", ".join(id_list) if id_list else repr(query)
        raise ZoomqaError(f"arXiv found no papers for {wanted}; nothing was added", exit_code=1)
    return records
