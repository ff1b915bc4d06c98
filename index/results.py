"""What a search returns: recommended models, related papers, or an explicit "nothing relevant".

These types are the contract between retrieval (index/) and everything that uses it (agent/).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from zoomqa.index.records import Record


@dataclass(frozen=True)
class Hit:
    """A record with how well it matches the question.

    ``score`` is the fused hybrid relevance (higher is better, comparable within one search);
    ``similarity`` is the cosine similarity between question and record embeddings, the
    number the "nothing relevant" threshold is calibrated on.
    """

    record: Record
    score: float
    similarity: float


@dataclass(frozen=True)
class SearchResult:
    """The outcome of one search.

    When ``relevant`` is False nothing in the index answers the question: ``models`` and
    ``papers`` are empty and ``nearest_topics`` names what the index does cover nearby, so
    the answer can say so instead of guessing.
    """

    question: str
    models: tuple[Hit, ...] = ()
    papers: tuple[Hit, ...] = ()
    relevant: bool = True
    nearest_topics: tuple[str, ...] = field(default_factory=tuple)

    @property
    def hits(self) -> tuple[Hit, ...]:
        """Models first, then papers: the order sources are cited in."""
        return self.models + self.papers
