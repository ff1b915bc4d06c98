"""``zoomqa eval train-entailment``: the claim check's cross-encoder (compose/entailment.py).

Training pairs are (card sentence, written sentence) from ``data/entailment/claims-*.jsonl``:
its paraphrase is *entailed*, its contradiction *contradicted*, its fabrication *neutral*, and a
paraphrase set against another sentence of the same card is *neutral* too (a sentence the
passage does not speak to is not contradicted by it); each card sentence set against itself
is *entailed*. Contradiction goes both ways, so the contradiction is also set against the
paraphrase and, as the passage, against the card sentence: the model then learns what was
changed rather than how a card sentence is worded. Cards are held out whole to choose the
epochs and to report (index/pair_training.py).
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from zoomqa.agent.compose.entailment import DATA_DIR, LABELS
from zoomqa.errors import ZoomqaError
from zoomqa.index.data_files import jsonl_rows
from zoomqa.index.embedding import resolve_embedder
from zoomqa.index.pair_training import LabelledPair, PairSettings, train_pair_classifier

SETTINGS = PairSettings()
FIELDS = ("paraphrase", "contradiction", "fabrication")
RECIPE = 2  # how pairs are made from the written claims (training_pairs); part of the digest
_LABEL_OF = {"paraphrase": "entailed", "contradiction": "contradicted", "fabrication": "neutral"}


@dataclass(frozen=True)
class WrittenClaims:
    """One card sentence and the three sentences written from it."""

    card: str
    sentence: str
    paraphrase: str
    contradiction: str
    fabrication: str


def read_written_claims(directory: Path = DATA_DIR) -> list[WrittenClaims]:
    """Every ``claims-*.jsonl`` line of ``directory``; one ZoomqaError names a bad line."""
    found: list[WrittenClaims] = []
    for where, row in jsonl_rows(directory, "claims-*.jsonl", "written claims", "written claim"):
        try:
            item = WrittenClaims(**{k: " ".join(str(row[k]).split()) for k in ("card", "sentence", *FIELDS)})
        except (KeyError, TypeError) as exc:
            raise ZoomqaError(f"{where}: not a written claim ({exc})") from None
        if not all(asdict(item).values()):
            raise ZoomqaError(f"{where}: an empty field")
        found.append(item)
    return found


def training_digest(embedder: str, claims: Sequence[WrittenClaims] | None = None) -> str:
    """What trained weights depend on: the written claims, the base model and the settings."""
    claims = read_written_claims() if claims is None else claims
    rows = [list(asdict(c).values()) for c in claims]
    payload = json.dumps([embedder, asdict(SETTINGS), RECIPE, rows], ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def training_pairs(claims: Sequence[WrittenClaims]) -> list[LabelledPair]:
    """(passage, sentence) for every written sentence; each card sentence against itself,
    entailed (the contradictions keep most of the source's words, and without these the model
    learns that words shared means contradicted); the contradiction set against the paraphrase
    and, the other way round, the card sentence against the contradiction; and one neutral pair
    per card sentence: its paraphrase set against another sentence of its card (chosen with the
    settings' seed)."""
    rng = random.Random(SETTINGS.seed)
    by_card: dict[str, list[WrittenClaims]] = {}
    for claim in claims:
        by_card.setdefault(claim.card, []).append(claim)
    neutral, contradicted = LABELS.index("neutral"), LABELS.index("contradicted")
    pairs = []
    quoted: set[str] = set()  # a card sentence written from twice is set against itself once
    for claim in claims:
        if claim.sentence not in quoted:
            quoted.add(claim.sentence)
            pairs.append(LabelledPair(claim.sentence, claim.sentence, LABELS.index("entailed"), claim.card))
        for field in FIELDS:
            label = LABELS.index(_LABEL_OF[field])
            pairs.append(LabelledPair(claim.sentence, getattr(claim, field), label, claim.card))
        pairs.append(LabelledPair(claim.paraphrase, claim.contradiction, contradicted, claim.card))
        pairs.append(LabelledPair(claim.contradiction, claim.sentence, contradicted, claim.card))
        others = [c for c in by_card[claim.card] if c.sentence != claim.sentence]
        if others:
            pairs.append(LabelledPair(rng.choice(others).sentence, claim.paraphrase, neutral, claim.card))
    return pairs


def train_entailment(
    embedder_spec: str, destination: Path, *, say: Callable[[str], None] = lambda _: None
) -> dict[str, Any]:
    """Train on the shipped written claims and write ``destination``; returns the report."""
    claims = read_written_claims()
    _, identity = resolve_embedder(embedder_spec)
    say(f"{len(claims)} card sentences with a paraphrase, a contradiction and a fabrication each")
    return train_pair_classifier(
        embedder_spec,
        training_pairs(claims),
        LABELS,
        destination,
        digest=training_digest(identity, claims),
        settings=SETTINGS,
        say=say,
    )
