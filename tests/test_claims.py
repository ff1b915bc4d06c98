"""Claim-level grounding (issue 24): each sentence is judged against the source it cites.

The measured failures: an invented fact passed at cosine 0.67 citing the LIIF paper, a
contradiction of the cited card passed at 0.84, a wrong citation number was silently moved by
cosine, and a faithful answer was rejected whole for one weak line. Real bundled cards and the
real embedder; the chat model is LangChain's fake, the one boundary we do not own.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from typer.testing import CliRunner

from zoomqa.agent.compose.answer import Answer
from zoomqa.agent.compose.claims import ClaimChecker, bundled_vocabulary, key_terms, opposite
from zoomqa.agent.compose.evidence import Evidence
from zoomqa.agent.compose.grounding import GroundingGuard
from zoomqa.agent.compose.pipeline import Answerer
from zoomqa.agent.compose.writers import ChatWriter
from zoomqa.cli import app
from zoomqa.index.embedding import Embedder
from zoomqa.index.records import read_bundled_corpus
from zoomqa.index.results import Hit, SearchResult

QUESTION = "I blew up an old photo 10x and it stayed crisp — how is that even possible?"
SOURCES = ["SISR-Any-LIIF-EDSR", "paper:liif", "paper:edsr"]  # [1], [2], [3]
CLAIMS = Path(__file__).parent / "fixtures" / "guard_claims.jsonl"


@pytest.fixture(scope="module")
def evidence(embedder: Embedder) -> Evidence:
    records = {r.id: r for r in read_bundled_corpus()}
    hits = [Hit(records[i], score=0.6 - n * 0.02, similarity=0.6) for n, i in enumerate(SOURCES)]
    result = SearchResult(
        question=QUESTION,
        models=tuple(h for h in hits if h.record.kind == "model"),
        papers=tuple(h for h in hits if h.record.kind == "paper"),
    )
    gathered = Evidence.gather(result, embedder)
    assert [r.id for r in gathered.records] == SOURCES
    return gathered


def test_an_invented_dataset_is_unsupported_although_the_sentence_is_close(evidence: Evidence) -> None:
    (verdict,) = ClaimChecker(evidence).check([("LIIF was trained on ImageNet-21k.", (2,))])
    assert not verdict.supported
    assert verdict.judged.missing == ("ImageNet-21k",)  # the LIIF paper's card never names it


def test_a_loss_the_cited_card_never_mentions_contradicts_it(evidence: Evidence) -> None:
    (verdict,) = ClaimChecker(evidence).check([("LIIF-EDSR was trained with an adversarial GAN loss.", (1,))])
    assert not verdict.supported
    assert "GAN" in verdict.judged.missing  # a term of the GAN cards, absent from LIIF-EDSR's


def test_a_faithful_sentence_keeps_its_citation(evidence: Evidence) -> None:
    (verdict,) = ClaimChecker(evidence).check(
        [("LIIF learned from the 800 training images of DIV2K, using an L1 loss.", (2,))]
    )
    assert verdict.supported and not verdict.repointed and verdict.kept is not None
    assert verdict.kept.sources == (2,) and verdict.kept.field == "paper:liif:facts"


def test_a_wrong_citation_moves_only_to_a_source_that_clearly_supports_it(evidence: Evidence) -> None:
    moved, invented = ClaimChecker(evidence).check(
        [
            ("LIIF-EDSR has about 1.6 million parameters, most of them in its encoder.", (3,)),
            ("LIIF won the NTIRE 2021 super-resolution challenge.", (3,)),  # EDSR won NTIRE 2017
        ]
    )
    assert moved.repointed and moved.kept is not None and moved.kept.sources == (1,)
    assert not invented.supported and not invented.repointed


def test_a_negated_statement_and_a_reversed_comparison_say_the_opposite() -> None:
    assert opposite("zoomqa's LIIF-EDSR cannot run on a CPU.", "zoomqa runs LIIF-EDSR on a CPU.")
    assert opposite("BSRNet looks crisper than BSRGAN.", "BSRGAN looks crisper than BSRNet.")
    assert opposite("It reports 37% more training FLOPs.", "It reports 37% fewer training FLOPs.")
    assert not opposite("LIIF enlarges a photo to any size.", "LIIF blows a photo up to any size.")
    # a ranking on one scale turned round, in other words than the source's
    assert opposite(
        "Meta-SR beats LIIF at large, unseen scales.",
        "Meta-SR matches LIIF at the training scales but falls behind at larger, unseen scales.",
    )
    assert opposite(
        "CiaoSR is cheaper per output pixel than LIIF.",
        "CiaoSR costs more computation per output pixel than LIIF because of its attention modules.",
    )
    assert not opposite("LIIF stays ahead of bicubic at x30.", "LIIF outperforms bicubic at x30.")
    # a negation about something the sentence never speaks of neither affirms nor denies it
    assert not opposite(
        "The encoder turns the photo into a grid of feature vectors.",
        "An EDSR-baseline encoder (no upsampling layer) turns the photo into a grid of feature vectors.",
    )


def test_a_sentence_that_gives_its_subject_the_other_side_of_a_contrast_says_the_opposite() -> None:
    passage = (
        "SR3 trains its diffusion model from scratch, whereas later diffusion upscalers such as "
        "StableSR and DiffBIR reuse a pre-trained Stable Diffusion model."
    )
    assert opposite("SR3 builds on a pre-trained Stable Diffusion model.", passage)
    assert not opposite("StableSR reuses a pre-trained Stable Diffusion model.", passage)
    assert not opposite("SR3 trains its diffusion model from scratch.", passage)
    # a sentence that states both sides itself is judged by the other tests
    assert not opposite(
        "FBCNN-D fixes the quality factor on its own, while FBCNN-A is trained with double JPEG.",
        "FBCNN-D corrects the quality factor automatically, while FBCNN-A is trained with double JPEG.",
    )


def test_key_terms_are_names_numbers_and_words_the_cards_use_as_terms() -> None:
    terms = key_terms("LIIF-EDSR took about 2 s on a 2-core CPU with native bf16, a huge codebook win.",
                      bundled_vocabulary())  # fmt: skip
    assert {"LIIF-EDSR", "CPU", "bf16"} <= set(terms.names)
    assert "2" in terms.numbers
    assert terms.words == ("codebook",)  # "huge", "native", "took": plain prose, no term


def answer_with(reply: str, evidence: Evidence, embedder: Embedder) -> Answer:
    writer = ChatWriter("local", GenericFakeChatModel(messages=iter([AIMessage(content=reply)])))
    hits = [Hit(r, score=0.6, similarity=0.6) for r in evidence.records]
    result = SearchResult(
        question=QUESTION,
        models=tuple(h for h in hits if h.record.kind == "model"),
        papers=tuple(h for h in hits if h.record.kind == "paper"),
    )
    return Answerer(writer, embedder, guard=GroundingGuard()).answer(result)


def test_one_weak_line_costs_its_part_not_the_answer(evidence: Evidence, embedder: Embedder) -> None:
    reply = (
        "Task: LIIF-EDSR enlarges a photo to any size, even 10x, from a single low-resolution image [1].\n"
        "Input: A low-resolution RGB photo plus the wanted output size, or a scale factor that fixes it [1].\n"
        "Model: For every output pixel a small MLP reads the four nearest feature vectors, the pixel's "
        "coordinate and its size, and predicts the colour [1].\n"
        "Output: It was trained on ImageNet-21k with a codebook lookup [1]."
    )
    answer = answer_with(reply, evidence, embedder)
    assert answer.writer == "local" and answer.fallback_reason is None
    texts = [s.text for s in answer.statements]
    assert texts[0].startswith("LIIF-EDSR enlarges a photo to any size, even 10x")
    assert not any("ImageNet-21k" in t for t in texts)
    notes = " ".join(answer.guard_notes)
    assert "never mentions 'ImageNet-21k', 'codebook'" in notes
    assert "the output part had no supported sentence: it is taken from the extractive answer" in notes
    output = next(step for step in answer.steps if step.stage == "output")
    assert output.statements and output.statements[0].field == "SISR-Any-LIIF-EDSR:workflow.output"


@pytest.mark.slow
def test_the_guard_evaluation_on_the_labelled_claims() -> None:
    result = CliRunner().invoke(app, ["eval", "guard", "--claims", str(CLAIMS), "--json"])
    assert result.exit_code == 0, result.output
    halves = json.loads(result.output)["halves"]
    for half in ("dev", "report"):
        scores = halves[half]
        assert scores["n"] > 200
        assert scores["precision"] >= 0.9  # the target: what the guard drops is unsupported
        assert scores["flagged_by_kind"]["fabrication"] >= 0.9  # invented facts are caught
        assert scores["supported_kept"] >= 0.9
    # The recall target (0.9) is not met: a contradiction that keeps the card's words and only
    # turns the relation around passes (agent/compose/claims.py). This floor guards what is measured.
    assert halves["dev"]["recall"] >= 0.85 and halves["report"]["recall"] >= 0.8
