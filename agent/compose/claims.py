"""Claim-level grounding: does the source a sentence cites say what the sentence says?

A generative writer cites its sources by number ("... on DIV2K [2]."). Sentence cosine alone
cannot tell "LIIF is trained on DIV2K" from "LIIF is trained on ImageNet-21k" (0.67 to the same
passage), so each sentence is judged against the passages and the text of the source it cites:

1. *support*: its best cosine to one of that source's passages must reach the threshold;
2. *key terms*: every name (capitalised or coined token: LIIF, ImageNet-21k, L1, GPU), number
   (1.6, 4x, 2304) and domain word (codebook, sinusoidal) in the sentence must occur
   somewhere in the source's text: title, tasks, venue, year, authors, links, summary, card fields;
3. *not the opposite*: against the closest passages, no negation on one side only ("cannot run
   on a CPU" / "runs on a CPU"), no "more" where the source says "fewer" (higher/lower,
   adds/removes, "beats"/"falls behind", "cheaper"/"costs more"...), no comparison turned round
   ("BSRNet looks crisper than BSRGAN"), and no work given what a contrasting passage says of
   another ("SR3 builds on Stable Diffusion" against "SR3 trains from scratch, whereas StableSR
   reuses Stable Diffusion").

Domain words are learnt from the bundled cards when first needed, never listed by hand: a word
that a few cards use, and use again and again ("codebook": 3 of 77 cards, 20 times) or name as
a task, is a term of the field; one that most cards use ("image", "trained"), that turns up once
here and there ("huge", "since") or that no card uses says nothing about which source is right.
A term known from other cards but absent from the cited one is how most contradictions show.

A sentence its cited source does not support moves to another retrieved source only when that
source clearly supports it: every check passes there, its names and numbers are in the very
passage closest to the sentence, and that passage is clearly closer than the cited source's.

4. *not contradicted*: a sentence that passes the tests above is read with its closest passages
   by a cross-encoder (entailment.py); P(contradicted) >= CONTRADICTION_THRESHOLD drops it. A
   passage that holds every meaningful word of the sentence (a shortened quote) is not asked:
   the model is over-confident on those, and dropping a negation is the opposite test's job.

Measured by `zoomqa eval guard --claims tests/fixtures/guard_claims.jsonl` at these settings
(dev half / report half): precision of "unsupported" 0.95 / 0.91, recall 0.93 / 0.89, supported
sentences kept 0.95 / 0.91; fabrications dropped 0.96 / 1.00, contradictions 0.88 / 0.76.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any, Literal

import numpy as np
import snowballstemmer

from zoomqa.agent.compose.entailment import contradiction, shipped_model
from zoomqa.agent.compose.evidence import FIELD_QUESTION, Evidence, encode
from zoomqa.index.pair_model import PairClassifier
from zoomqa.index.records import Record, bundled_cards
from zoomqa.index.sentences import split_sentences

# The three settings below were chosen together on the dev half (odd ids) of
# tests/fixtures/guard_claims.jsonl by `zoomqa eval guard --claims ... --sweep`: the best F1 of
# "unsupported" among the settings that keep at least 95% of the supported sentences
# (agent/evaluation/guard.py: best). The report half (even ids) is only reported.
#
# Cosine (all-MiniLM-L6-v2) a sentence needs to the closest passage of the source it cites.
SUPPORT_THRESHOLD = 0.725
# A word is a domain term when at most this share of the bundled cards use it...
DOMAIN_TERM_MAX_SHARE = 0.1
# ... and either names a topic of some card (one of its tasks) or recurs: used on average at
# least this many times by the cards that use it.
MIN_BURST = 2.5
MIN_TERM_LETTERS = 4  # shorter lower-case words ("use", "two", "set") are grammar, not terms

_TOKEN = re.compile(r"[A-Za-z0-9][\w'’+./-]*[\w+]|[A-Za-z0-9]")
_POSSESSIVE = re.compile(r"['’]s?$")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
# a token that is nothing but numbers: 4, 1.6, 4x, x30, 48x48, 3,450, 20%
_NUMERIC = re.compile(r"^[x×]?\d[\d.,]*(?:[x×]\d[\d.,]*)*[x×%]?$")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}\b)")
_PARTS = re.compile(r"[-_/.]+")
_NUMBER_WORDS = {
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
    "ten": "10",
    "eleven": "11",
    "twelve": "12",
    "twenty": "20",
    "thirty": "30",
    "hundred": "100",
    "thousand": "1000",
    "twice": "2",
}
_NEGATIONS = frozenset({"not", "no", "never", "without", "cannot", "none", "neither", "nor"})
# Closed-class words that say the opposite of each other when one stands where the source has
# the other ("37% fewer FLOPs" / "37% more"): grammar, like the negations, not domain terms.
_OPPOSITES = (
    ("more", "fewer"),
    ("more", "less"),
    ("most", "least"),
    ("higher", "lower"),
    ("high", "low"),
    ("large", "small"),
    ("larger", "smaller"),
    ("bigger", "smaller"),
    ("faster", "slower"),
    ("better", "worse"),
    ("easier", "harder"),
    ("easiest", "hardest"),
    ("cheaper", "costlier"),
    ("before", "after"),
    ("above", "below"),
    ("earlier", "later"),
    ("first", "last"),
    ("adds", "removes"),
    ("increases", "reduces"),
    ("increases", "decreases"),
)

# The same for phrases that rank two works on one scale ("beats" / "falls behind", "cheaper" /
# "costs more"): each row holds a scale's "ahead" phrases, then its "behind" phrases.
_RANKINGS = (
    (
        ("beats", "beat", "outperforms", "outperform", "surpasses", "is ahead of", "stays ahead"),
        ("falls behind", "fall behind", "trails", "lags behind", "is behind", "underperforms"),
    ),
    (
        ("costs more", "more computation", "more compute", "more expensive", "more memory"),
        ("cheaper", "costs less", "less computation", "less compute", "less memory", "fewer flops"),
    ),
)
# "A rather than B", "A instead of B", "A than B": the words either side must keep their side
_COMPARISON = re.compile(r"\b(?:rather than|instead of|than)\b", re.IGNORECASE)
# "A does this, whereas B does that": the clauses a contrast sets against each other
_CLAUSE_BREAK = re.compile(r",?\s*\b(?:while|whereas|unlike)\b|;", re.IGNORECASE)
_WORDS = re.compile(r"[a-z0-9]+")
SIDE_WORDS = 4  # words either side of a comparison
NEGATION_SCOPE = 3  # words after "not" that it denies, within its phrase
COMMON_SHARE = 0.5  # a stem more than half the cards use ("the", "image") carries no meaning
# Passages this much less close than the closest one are checked for opposites too (a sentence
# may paraphrase either); 0.06 was the best of 0, 0.03, 0.06, 0.1, 0.15 on the dev half.
OPPOSITE_MARGIN = 0.06
# P(contradicted) from the entailment model (entailment.py) at which a sentence that passes the
# other tests counts as saying the opposite of its source; chosen with the settings above.
CONTRADICTION_THRESHOLD = 0.95
# How much closer than the cited source another source must be to take over a citation.
REPOINT_MARGIN = 0.05

_STEMMERS = threading.local()  # a snowball stemmer keeps its working word: one per thread


def _stemmer() -> Any:
    if not hasattr(_STEMMERS, "english"):
        _STEMMERS.english = snowballstemmer.stemmer("english")
    return _STEMMERS.english


@lru_cache(maxsize=16384)
def _stem(word: str) -> str:
    return str(_stemmer().stemWord(word.lower()))


def _tokens(text: str) -> list[str]:
    """The words of ``text`` as written, possessives and trailing dots cut ("LIIF's" -> "LIIF")."""
    text = _THOUSANDS.sub("", text)
    return [t for t in (_POSSESSIVE.sub("", m.group(0)).rstrip(".") for m in _TOKEN.finditer(text)) if t]


def _canonical(number: str) -> str:
    """'1.0' and '1' are one number, as are '0.50' and '0.5'."""
    return number.rstrip("0").rstrip(".") if "." in number else number


def _numbers(tokens: Iterable[str]) -> set[str]:
    found: set[str] = set()
    for token in tokens:
        if _NUMERIC.match(token):
            found.update(_canonical(n) for n in _NUMBER.findall(token))
        elif token.lower() in _NUMBER_WORDS:
            found.add(_NUMBER_WORDS[token.lower()])
    return found


def _lower_words(text: str) -> frozenset[str]:
    return frozenset(re.findall(r"[a-z']+", text.lower()))


def _stems_in_order(text: str) -> list[str]:
    """The stems of ``text``'s words that carry meaning, hyphenated words split: three letters
    or more, and not used by most cards ("the", "and", "that", "image")."""
    common = _common_stems()
    return [stem for w in _WORDS.findall(text.lower()) if len(w) >= 3 and (stem := _stem(w)) not in common]


@lru_cache(maxsize=4096)
def _stem_set(text: str) -> frozenset[str]:
    """The meaningful stems of ``text``; passages are compared with every sentence of a draft."""
    return frozenset(_stems_in_order(text))


@cache
def _common_stems() -> frozenset[str]:
    """The stems more than COMMON_SHARE of the bundled cards use: the function words of the field."""
    records = bundled_cards()
    frequency = Counter(
        stem for r in records for stem in {_stem(w) for w in _WORDS.findall(source_text(r).lower())}
    )
    return frozenset(stem for stem, n in frequency.items() if n > COMMON_SHARE * len(records))


def _negated_about(text: str, other: frozenset[str]) -> bool:
    """Whether ``text`` negates something ``other`` (a set of stems) also speaks of: in "it
    reduces this but does not remove it", the "not" is about removing, which a sentence that
    never mentions removing neither affirms nor denies."""
    for segment in re.split(r"[,;:()]|\.\s", text.lower()):  # a negation ends with its phrase
        words = re.findall(r"[a-z0-9'-]+", segment)
        for i, word in enumerate(words):
            if word in _NEGATIONS or word.endswith("n't"):
                scope = set(_stems_in_order(" ".join(words[i + 1 : i + 1 + NEGATION_SCOPE])))
                if scope & other:
                    return True
    return False


def opposite(sentence: str, passage: str) -> bool:
    """Whether ``sentence`` says the opposite of ``passage``: one negates what the other states,
    it has "more" (higher, faster, adds...) where the passage has "fewer" (lower, ...), or it
    swaps the two sides of a comparison ("BSRNet looks crisper than BSRGAN")."""
    ours, theirs = frozenset(_stems_in_order(sentence)), frozenset(_stems_in_order(passage))
    if _negated_about(sentence, theirs) != _negated_about(passage, ours):
        return True
    our_words, their_words = _lower_words(sentence), _lower_words(passage)
    flipped = any(
        x in our_words and x not in their_words and y in their_words and y not in our_words
        for a, b in _OPPOSITES
        for x, y in ((a, b), (b, a))
    )
    return (
        flipped
        or _ranked_the_other_way(sentence, passage)
        or _swapped(sentence, passage)
        or _misattributed(sentence, passage)
    )


def _phrases(phrases: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile(rf"\b(?:{'|'.join(phrases)})\b")


_RANKING_PATTERNS = tuple((_phrases(ahead), _phrases(behind)) for ahead, behind in _RANKINGS)


def _ranks(text: str) -> list[tuple[bool, bool]]:
    """Per scale of _RANKINGS, whether ``text`` puts its subject ahead, and behind."""
    lowered = " ".join(_WORDS.findall(text.lower()))
    return [
        (bool(ahead.search(lowered)), bool(behind.search(lowered))) for ahead, behind in _RANKING_PATTERNS
    ]


def _ranked_the_other_way(sentence: str, passage: str) -> bool:
    """Whether ``sentence`` ranks ahead on a scale where ``passage`` only ranks behind, or the
    other way round ("Meta-SR beats LIIF at unseen scales" / "... falls behind at unseen scales")."""
    return any(
        (ours[0] and not ours[1] and theirs[1] and not theirs[0])
        or (ours[1] and not ours[0] and theirs[0] and not theirs[1])
        for ours, theirs in zip(_ranks(sentence), _ranks(passage), strict=True)
    )


def _names(text: str) -> frozenset[str]:
    """The names a text mentions by their spelling (LIIF, StableSR, DIV2K), lower-cased."""
    return frozenset(t.lower() for t in _tokens(text) if _coined(t))


def _misattributed(sentence: str, passage: str) -> bool:
    """Whether ``sentence`` gives its subject what a contrasting passage says of another work:
    "SR3 builds on a pre-trained Stable Diffusion model" against "SR3 trains its model from
    scratch, whereas later upscalers such as StableSR reuse a pre-trained Stable Diffusion model".
    The subject is the sentence's first name; the clause that shares most of the sentence's other
    words must not be about another work while the subject stands in a different clause."""
    clauses = [c for c in _CLAUSE_BREAK.split(passage) if c.strip()]
    names = [t.lower() for t in _tokens(sentence) if _coined(t)]
    if len(clauses) < 2 or not names or _CLAUSE_BREAK.search(sentence):
        return False  # no contrast to misread, or the sentence states both sides itself
    subject = names[0]
    said = frozenset(_stems_in_order(sentence)) - {_stem(n) for n in names}
    overlap = [len(said & frozenset(_stems_in_order(c))) for c in clauses]
    best = max(range(len(clauses)), key=lambda i: overlap[i])
    if sorted(overlap)[-2] == overlap[best]:
        return False  # no one clause is clearly the one the sentence restates
    about = _names(clauses[best])
    return (
        subject not in about
        and bool(about - set(names))
        and any(subject in _names(c) for i, c in enumerate(clauses) if i != best)
    )


def _sides(text: str) -> list[tuple[frozenset[str], frozenset[str]]]:
    """The stems just before and just after each comparison in ``text`` ("A rather than B")."""
    sides = []
    for match in _COMPARISON.finditer(text):
        before = _stems_in_order(text[: match.start()])[-SIDE_WORDS:]
        after = _stems_in_order(text[match.end() :])[:SIDE_WORDS]
        sides.append((frozenset(before), frozenset(after)))
    return sides


def _swapped(sentence: str, passage: str) -> bool:
    """Whether a comparison of ``passage`` comes back reversed in ``sentence``: what came after
    "than" ("rather than", "instead of") now comes before it, and the other way round."""
    return any(
        (ours_before & theirs_after) - theirs_before and (ours_after & theirs_before) - theirs_after
        for ours_before, ours_after in _sides(sentence)
        for theirs_before, theirs_after in _sides(passage)
    )


def _coined(token: str) -> bool:
    """A name by its spelling: capitals after the first letter (LIIF, ImageNet), letters mixed
    with digits (DIV2K, L1, bf16) or an underscore (dec_w, RealESRGAN_x4plus)."""
    has_digit = any(c.isdigit() for c in token)
    has_alpha = any(c.isalpha() for c in token)
    return any(c.isupper() for c in token[1:]) or (has_digit and has_alpha) or "_" in token


@dataclass(frozen=True)
class Vocabulary:
    """What counts as a key term, learnt from the cards' own text."""

    domain: frozenset[str]  # stems of the words only some cards use: losses, datasets, hardware...
    names: frozenset[str]  # lower-cased words the cards capitalise, and only mid-sentence: Thera, Adam

    @classmethod
    def of(
        cls, records: Sequence[Record], max_share: float = DOMAIN_TERM_MAX_SHARE, burst: float = MIN_BURST
    ) -> Vocabulary:
        """A word is a domain term when at most ``max_share`` of the cards use it and it is
        either a topic word (in some card's tasks) or bursty: the cards that use it use
        it ``burst`` times on average. Words of plain prose ("huge", "since", "holds") occur once
        where they occur; terms of the field recur where they belong ("codebook": 3 cards,
        20 times)."""
        document_frequency: Counter[str] = Counter()
        occurrences: Counter[str] = Counter()
        topic: set[str] = set()
        capitalised: set[str] = set()
        lower: set[str] = set()
        for record in records:
            stems = [_stem(t) for t in _tokens(source_text(record)) if _word(t)]
            occurrences.update(stems)
            document_frequency.update(set(stems))
            topic.update(_stem(t) for t in _tokens(" ".join(record.tasks)) if _word(t))
            for sentence in split_sentences(
                " ".join([record.summary, *(t for _, t in record.card_fields())])
            ):
                for token in _tokens(sentence)[1:]:
                    (capitalised if token[:1].isupper() else lower).add(token.lower())
        limit = max_share * len(records)
        return cls(
            domain=frozenset(
                stem
                for stem, n in document_frequency.items()
                if n <= limit and (stem in topic or occurrences[stem] >= burst * n)
            ),
            names=frozenset(capitalised - lower),
        )


def _word(token: str) -> bool:
    """A lower-case-able word long enough to be a term (not "use", "two", "set")."""
    return token.isalpha() and len(token) >= MIN_TERM_LETTERS


@cache
def bundled_vocabulary(max_share: float = DOMAIN_TERM_MAX_SHARE, burst: float = MIN_BURST) -> Vocabulary:
    """The vocabulary of the bundled cards, built once."""
    return Vocabulary.of(bundled_cards(), max_share, burst)


def source_text(record: Record) -> str:
    """Everything a source says: title, tasks, venue, year, authors, links, summary, card fields."""
    about = [
        record.title,
        "; ".join(record.tasks),
        record.venue or "",
        str(record.year),
        ", ".join(record.authors),
    ]
    links = [record.arxiv_id or "", *record.links.values()]
    return " ".join(about + links + [record.summary] + [text for _, text in record.card_fields()])


@dataclass(frozen=True)
class Terms:
    """The key terms of one sentence, as written."""

    names: tuple[str, ...]
    numbers: tuple[str, ...]
    words: tuple[str, ...]  # domain words

    @property
    def all(self) -> tuple[str, ...]:
        return self.names + self.numbers + self.words


def key_terms(sentence: str, vocabulary: Vocabulary) -> Terms:
    """The names, numbers and domain words of ``sentence`` that its source must mention."""
    names: list[str] = []
    words: list[str] = []
    tokens = _tokens(sentence)
    for i, token in enumerate(tokens):
        if _NUMERIC.match(token) or token.lower() in _NUMBER_WORDS:
            continue
        if _coined(token) or (token[:1].isupper() and (i > 0 or token.lower() in vocabulary.names)):
            names.append(token)
        elif _word(token) and _stem(token) in vocabulary.domain:
            words.append(token)
    numbers = sorted(_numbers(tokens))
    return Terms(tuple(dict.fromkeys(names)), tuple(numbers), tuple(dict.fromkeys(words)))


@dataclass(frozen=True)
class SourceTerms:
    """What one source mentions, ready for look-ups: its words, word parts, stems and numbers."""

    words: frozenset[str]
    stems: frozenset[str]  # with their prefixes: "larg" is in "larger", which snowball leaves whole
    numbers: frozenset[str]

    @classmethod
    def of(cls, text: str) -> SourceTerms:
        tokens = _tokens(text)
        words = {t.lower() for t in tokens}
        words |= {part for t in words for part in _PARTS.split(t) if part}
        stems = {_stem(w) for w in words if w.isalpha()}
        prefixes = {
            stem[:n] for stem in stems for n in range(min(MIN_TERM_LETTERS, len(stem)), len(stem) + 1)
        }
        return cls(frozenset(words), frozenset(prefixes), frozenset(_numbers(tokens)))

    def has_name(self, name: str) -> bool:
        lowered = name.lower()
        if lowered in self.words or lowered.rstrip("s") in self.words:  # GANs, CNNs
            return True
        parts = [p for p in _PARTS.split(lowered) if p]
        return len(parts) > 1 and all(p in self.words or p.rstrip("s") in self.words for p in parts)

    def lacks(self, terms: Terms) -> list[str]:
        """The terms this source never mentions."""
        missing = [n for n in terms.names if not self.has_name(n)]
        missing += [n for n in terms.numbers if n not in self.numbers]
        missing += [w for w in terms.words if _stem(w) not in self.stems]
        return missing


@lru_cache(maxsize=256)  # a card's text recurs in every answer that retrieves it
def _text_terms(text: str) -> SourceTerms:
    return SourceTerms.of(text)


@dataclass(frozen=True)
class Judgement:
    """How well one set of sources supports a sentence."""

    sources: tuple[int, ...]
    similarity: float
    field: str | None  # 'record-id:field' of the closest passage, or 'question'
    missing: tuple[str, ...]
    polarity_differs: bool
    contradicted: float = 0.0  # the entailment model's P(contradicted) against the closest passages

    def supports(self, threshold: float) -> bool:
        return self.similarity >= threshold and not self.missing and not self.polarity_differs

    def why_not(self, threshold: float) -> str:
        """The reasons, in words, for a note."""
        reasons = []
        if self.similarity < threshold:
            reasons.append(f"cosine {self.similarity:.2f}")
        if self.missing:
            reasons.append("never mentions " + ", ".join(repr(t) for t in self.missing))
        if self.polarity_differs:
            reasons.append("says the opposite")
        return "; ".join(reasons)


@dataclass(frozen=True)
class ClaimCheck:
    """The verdict on one sentence: the sources it is kept with, or why it is unsupported."""

    text: str
    cited: tuple[int, ...]  # the valid source numbers the sentence cited
    judged: Judgement  # against the cited sources (or the best single source when none was cited)
    kept: Judgement | None  # what it is kept with: the cited sources, another source, or None

    @property
    def supported(self) -> bool:
        return self.kept is not None

    @property
    def repointed(self) -> bool:
        """The sentence cited a source that does not support it and another one does."""
        return self.kept is not None and bool(self.cited) and self.kept.sources != self.cited


class ClaimChecker:
    """Judges sentences against the sources they cite, for one question's evidence."""

    def __init__(
        self,
        evidence: Evidence,
        *,
        threshold: float = SUPPORT_THRESHOLD,
        vocabulary: Vocabulary | None = None,
        contradiction_threshold: float = CONTRADICTION_THRESHOLD,
        entailment: PairClassifier | None | Literal["shipped"] = "shipped",
    ) -> None:
        self.evidence = evidence
        self.threshold = threshold
        self.vocabulary = vocabulary or bundled_vocabulary()
        self.contradiction_threshold = contradiction_threshold
        self.entailment = shipped_model(evidence.embedder) if entailment == "shipped" else entailment
        self._terms = [_text_terms(source_text(r)) for r in evidence.records]
        self._question = SourceTerms.of(evidence.question)
        self._texts = [p.text for p in evidence.passages]
        self._owner = np.array([p.source for p in evidence.passages], dtype=np.int64)
        self._fields = [evidence.field_of(p) for p in evidence.passages]

    def vectors(self, texts: Sequence[str]) -> np.ndarray:
        """The sentences' embeddings (pass them back to :meth:`check` to judge them again)."""
        return (
            encode(self.evidence.embedder, list(texts))
            if texts
            else np.zeros((0, self.evidence.embedder.dim))
        )

    def check(
        self,
        claims: Sequence[tuple[str, Sequence[int]]],
        *,
        include_question: bool = False,
        vectors: np.ndarray | None = None,
    ) -> list[ClaimCheck]:
        """A verdict for each (sentence, cited source numbers). With ``include_question`` the
        person's question counts as a source too (part 1 may restate their situation)."""
        if not claims:
            return []
        vectors = self.vectors([text for text, _ in claims]) if vectors is None else vectors
        sims = vectors @ self.evidence.vectors.T if len(self._owner) else np.zeros((len(claims), 0))
        question = vectors @ self.evidence.question_vector if include_question else None
        verdicts = []
        for i, (text, cites) in enumerate(claims):
            asked = None if question is None else float(question[i])
            verdicts.append(self._check_one(text, cites, sims[i], asked))
        return verdicts

    def _check_one(
        self, text: str, cites: Sequence[int], sims: np.ndarray, asked: float | None
    ) -> ClaimCheck:
        terms = key_terms(text, self.vocabulary)
        count = len(self.evidence.records)
        cited = tuple(dict.fromkeys(n for n in cites if 1 <= n <= count))
        # another source must support the sentence clearly: its names and numbers in the very
        # passage closest to it (or the source's own title), not just somewhere in its text
        single = [self._judge(text, (n,), terms, sims, asked, clearly=True) for n in range(1, count + 1)]
        if asked is not None:
            single.append(self._judge(text, (), terms, sims, asked))  # the question alone
        if cited:
            judged = self._judge(text, cited, terms, sims, asked)
            if judged.supports(self.threshold):
                return ClaimCheck(text, cited, judged, judged)
            others = [j for j in single if not set(j.sources) & set(cited)]
        else:
            judged = max(single, key=lambda j: j.similarity)
            others = single
        # ... and be clearly closer to it than the cited source is
        floor = judged.similarity + REPOINT_MARGIN if cited else -1.0
        backing = [j for j in others if j.supports(self.threshold) and j.similarity >= floor]
        kept = max(backing, key=lambda j: j.similarity) if backing else None
        return ClaimCheck(text, cited, judged, kept)

    def _judge(
        self,
        text: str,
        sources: tuple[int, ...],
        terms: Terms,
        sims: np.ndarray,
        asked: float | None,
        *,
        clearly: bool = False,
    ) -> Judgement:
        mask = np.isin(self._owner, sources)
        best, similarity, field = -1, -1.0, None
        if mask.any():
            best = int(np.flatnonzero(mask)[np.argmax(sims[mask])])
            similarity = float(sims[best])
            field = self._fields[best]
        missing = list(terms.all)
        for number in sources:
            missing = self._terms[number - 1].lacks(_only(terms, missing))
        if clearly and best >= 0:
            record = self.evidence.records[self._owner[best] - 1]
            here = _text_terms(f"{self._texts[best]} {record.title} {record.id}")
            missing += here.lacks(Terms(terms.names, terms.numbers, ()))
        if asked is not None:
            missing = self._question.lacks(_only(terms, missing))
            if asked > similarity:
                best, similarity, field = -1, asked, FIELD_QUESTION
        contradicted = 0.0
        if best < 0:
            differs = similarity > -1 and opposite(text, self.evidence.question)
        else:
            # the closest passage, and any nearly as close: a sentence may paraphrase either
            near = np.flatnonzero(mask & (sims >= similarity - OPPOSITE_MARGIN))
            differs = any(opposite(text, self._texts[i]) for i in near)
            if self.entailment is not None and not differs and not missing and similarity >= self.threshold:
                # only a sentence every other test lets through is read by the (slower) model
                # A sentence whose every meaningful word is in the passage (a shortened quote)
                # can only contradict it by dropping a negation, which the opposite test reads;
                # the model is over-confident on such sentences, so it is not asked about them.
                said = _stem_set(text)
                contradicted = max(
                    (
                        contradiction(self.entailment, self._texts[i], text)
                        for i in near
                        if not said <= _stem_set(self._texts[i])
                    ),
                    default=0.0,
                )
                differs = contradicted >= self.contradiction_threshold
        return Judgement(sources, similarity, field, tuple(missing), differs, contradicted)


def _only(terms: Terms, keep: Sequence[str]) -> Terms:
    """``terms`` restricted to those in ``keep`` (what earlier sources did not mention)."""
    wanted = set(keep)
    return Terms(
        tuple(t for t in terms.names if t in wanted),
        tuple(t for t in terms.numbers if t in wanted),
        tuple(t for t in terms.words if t in wanted),
    )
