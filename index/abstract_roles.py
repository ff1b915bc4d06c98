"""The role of each sentence of an abstract, for records that have no card fields.

A paper added from arXiv has only its title and abstract. An answer explains it with three of
the abstract's sentences: what goes in, what the method does, what comes out. Which sentence
plays which part is read from role words kept as data (``data/abstract_roles.json``), not from
rules in the composer:

* ``notice`` -- code, data or a project page ("Code is available at https://..."): never quoted;
* ``evaluation`` -- a bare claim that experiments went well ("Extensive experiments show..."): never quoted;
* ``claim`` -- what the paper proposes ("we propose X, which ..."): the method itself;
* ``background`` -- the field before the paper (opening "Recently", "However", "Existing ..."),
  and every sentence before the first claim: it may say what goes in, never what the method does;
* ``detail`` -- everything else: how the method works or what it achieves.

Each sentence also gets a fit per step (input, model, output) -- how many of that step's role
words it uses (a step's words match as word beginnings: "recover" finds "recovers"), the claim
always the model -- and the step it fits best is its ``stage``: the claim says what the method
does, "it takes a noisy frame as input" what goes in, "it runs at 17 FPS" what comes out. A
background sentence can only set out the input. Tagging is deterministic and cached per
abstract, so a record is tagged once per process.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files
from pathlib import Path

from zoomqa.errors import ZoomqaError
from zoomqa.index.sentences import split_sentences

ROLES_FILE = Path(str(files("zoomqa.index") / "data" / "abstract_roles.json"))
ROLES = ("notice", "evaluation", "claim", "background", "detail")
STAGES = ("input", "model", "output")
# Cue counts are capped so a long sentence does not win by length alone; the claim sentence
# says what the method is, so its model fit is above any count of cues.
MAX_CUES = 3
CLAIM_WEIGHT = MAX_CUES + 1.0
STAGE_PRIORITY = ("model", "output", "input")  # a sentence that fits two steps equally well


@dataclass(frozen=True)
class RoleVocabulary:
    """The role words of ``abstract_roles.json`` as patterns."""

    never_quoted: frozenset[str]
    anywhere: dict[str, re.Pattern[str]]
    opening: dict[str, re.Pattern[str]]
    stage_cues: dict[str, tuple[re.Pattern[str], ...]]


@dataclass(frozen=True)
class TaggedSentence:
    text: str
    role: str
    fit: tuple[float, float, float]  # per step: input, model, output
    stage: str | None  # the step it fits best; None for a sentence that fits none

    @property
    def quotable(self) -> bool:
        return self.role not in vocabulary().never_quoted


def _phrase(phrase: str, *, word_start: bool = False) -> str:
    end = r"\w*" if word_start else r"(?![\w-])"
    return rf"(?<![\w-]){re.escape(phrase)}{end}"


def _any_of(phrases: list[str], *, opening: bool) -> re.Pattern[str]:
    alternatives = "|".join(_phrase(p) for p in sorted(phrases, key=len, reverse=True))
    # an opening phrase may follow an article or "our": "The experimental results show ..."
    return re.compile(
        rf"^\W*(?:(?:the|our|these|all)\s+)?(?:{alternatives})" if opening else alternatives, re.IGNORECASE
    )


def read_vocabulary(path: Path) -> RoleVocabulary:
    """The role words at ``path``; one ZoomqaError naming what is wrong."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        roles, stages = data["roles"], data["stages"]
        never = frozenset(data["never_quoted"])
        unknown = (set(roles) | never) - set(ROLES)
        if unknown or set(stages) != set(STAGES):
            raise ValueError(f"roles must be among {', '.join(ROLES)} and stages exactly {', '.join(STAGES)}")
        return RoleVocabulary(
            never_quoted=never,
            anywhere={
                r: _any_of(v["anywhere"], opening=False) for r, v in roles.items() if v.get("anywhere")
            },
            opening={r: _any_of(v["opening"], opening=True) for r, v in roles.items() if v.get("opening")},
            stage_cues={
                s: tuple(re.compile(_phrase(p, word_start=True), re.IGNORECASE) for p in stages[s])
                for s in STAGES
            },
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ZoomqaError(f"unreadable abstract role words {path}: {exc}") from None


@lru_cache(maxsize=1)
def vocabulary() -> RoleVocabulary:
    return read_vocabulary(ROLES_FILE)


def sentence_role(sentence: str, words: RoleVocabulary | None = None) -> str:
    """The role of one sentence on its own (its place in the abstract is not considered)."""
    words = words or vocabulary()
    for role in ROLES[:-1]:
        if (role in words.anywhere and words.anywhere[role].search(sentence)) or (
            role in words.opening and words.opening[role].search(sentence)
        ):
            return role
    return "detail"


def _cues(sentence: str, stage: str, words: RoleVocabulary) -> float:
    return float(min(MAX_CUES, sum(bool(p.search(sentence)) for p in words.stage_cues[stage])))


@lru_cache(maxsize=2048)  # an added paper is explained in many answers
def tag_abstract(summary: str) -> tuple[TaggedSentence, ...]:
    """Every sentence of ``summary`` with its role and its fit to each step."""
    words = vocabulary()
    sentences = split_sentences(summary)
    roles = [sentence_role(s, words) for s in sentences]
    first_claim = next((i for i, r in enumerate(roles) if r == "claim"), None)
    tagged = []
    for i, (sentence, role) in enumerate(zip(sentences, roles, strict=True)):
        if role == "detail" and first_claim is not None and i < first_claim:
            role = "background"
        if role in words.never_quoted:
            fit = (0.0, 0.0, 0.0)
        elif role == "background":  # what others do: it may set out the input, not this method
            fit = (_cues(sentence, "input", words), 0.0, 0.0)
        else:
            fit = (
                _cues(sentence, "input", words),
                _cues(sentence, "model", words) + (CLAIM_WEIGHT if role == "claim" else 0.0),
                _cues(sentence, "output", words),
            )
        best = max(fit)
        stage = None if best <= 0 else next(s for s in STAGE_PRIORITY if fit[STAGES.index(s)] == best)
        tagged.append(TaggedSentence(sentence, role, fit, stage))
    return tuple(tagged)
