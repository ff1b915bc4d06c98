"""The extractive writer and the answer path on real bundled records and the real embedder; where
what retrieval ranks first is part of the story, on the real index (FAISS and BM25) too."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from langchain_core.language_models import GenericFakeChatModel

from zoomqa.agent.compose.anchor import off_subject
from zoomqa.agent.compose.answer import REQUIRED_STAGES, Answer, Statement
from zoomqa.agent.compose.extractive import ExtractiveWriter, read_situation_phrases, situation
from zoomqa.agent.compose.pipeline import Answerer
from zoomqa.agent.compose.writers import ChatWriter
from zoomqa.agent.doors.render import render_json, render_markdown, render_slack
from zoomqa.agent.understand.question import analyse
from zoomqa.index.embedding import Embedder
from zoomqa.index.records import Record, read_bundled_corpus
from zoomqa.index.results import Hit, SearchResult
from zoomqa.index.retrieval import HybridRetriever

TEN_X = "I blew up an old photo 10x and it stayed crisp — how is that even possible?"
# Works that draw plausible detail (GANs, face priors, diffusion), and those that need a GPU.
GANS = {"SISR-x4-ESRGAN", "paper:esrgan", "paper:srgan", "SISR-x4-Real-ESRGAN", "paper:real-esrgan"}
FACE_PRIORS = {"Face-GFPGAN", "paper:gfpgan", "Face-CodeFormer", "paper:codeformer"}
DIFFUSION = {"SISR-x4-StableSR", "paper:stablesr", "paper:sr3", "Restore-DiffBIR", "paper:diffbir"}
GENERATIVE = GANS | {"SISR-x4-BSRGAN", "paper:bsrgan"} | FACE_PRIORS | DIFFUSION
NEEDS_A_GPU = {"SISR-x4-StableSR", "paper:stablesr", "SISR-x4-SwinIR"}


@pytest.fixture(scope="module")
def records() -> dict[str, Record]:
    return {r.id: r for r in read_bundled_corpus()}


def search_result(records: dict[str, Record], question: str, ids: list[str]) -> SearchResult:
    """A search result holding these bundled records, in this order (as a retriever would rank them)."""
    # fused scores a few hundredths apart, as real searches give them
    hits = [Hit(records[i], score=0.6 - n * 0.02, similarity=0.6) for n, i in enumerate(ids)]
    return SearchResult(
        question=question,
        models=tuple(h for h in hits if h.record.kind == "model"),
        papers=tuple(h for h in hits if h.record.kind == "paper"),
    )


@pytest.fixture(scope="module")
def retriever(request: pytest.FixtureRequest) -> Iterator[HybridRetriever]:
    """The bundled index (built once for the whole run), open."""
    import torch

    # Building the index and opening it embed every card once (the index's vector cache keeps
    # the sentences); on one torch thread, as the answer path embeds, since two threads are
    # twice as slow on a busy two-core machine.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        opened = HybridRetriever.open(request.getfixturevalue("bundled_home") / "index")
    finally:
        torch.set_num_threads(threads)
    with opened:
        yield opened


@pytest.fixture(scope="module")
def index_embedder(retriever: HybridRetriever) -> Embedder:
    """The embedder with the index's vector cache, as `zoomqa ask` answers with: the cards'
    sentences, embedded when the index was opened, are not embedded again for each answer."""
    return retriever.embedder


def asked(retriever: HybridRetriever, question: str) -> tuple[list[str], str]:
    """What the real search retrieves for ``question``, and the work its answer explains."""
    result = retriever.search(question)
    answer = Answerer(ExtractiveWriter(), retriever.embedder).answer(result)
    return [hit.record.id for hit in result.hits], explained(answer)[0]


@pytest.fixture(scope="module")
def ten_x_answer(records: dict[str, Record], index_embedder: Embedder) -> tuple[SearchResult, Answer]:
    # An old-photo restoration tool ranked first, as retrieval does for "old photo": the answer
    # must still explain the method that matches the person's situation (blown up 10x).
    ids = ["OldPhoto-BOPBtL", "SISR-Any-LIIF-EDSR", "paper:old-photos", "paper:liif", "paper:edsr"]
    result = search_result(records, TEN_X, ids)
    return result, Answerer(ExtractiveWriter(), index_embedder).answer(result)


def field_text(record: Record, field: str) -> list[str]:
    """The texts a card holds under ``field`` ('workflow.model', 'facts', 'summary'...)."""
    if field.startswith("workflow."):
        return [getattr(record.workflow, field.split(".")[1])]
    if field in ("explains", "facts"):
        return list(getattr(record, field))
    if field == "summary":
        return [record.summary]
    return [getattr(record, field)]


def points(answer: Answer) -> list[Statement]:
    """The sentences that answer the question: part 1's opening and part 2's closing step."""
    why = [s for step in answer.steps if step.stage == "why" for s in step.statements]
    return [*answer.task[:1], *why]


def explained(answer: Answer) -> list[str]:
    """Record ids cited in part 2, most cited first."""
    counts: dict[str, int] = {}
    for step in answer.steps:
        for statement in step.statements:
            for n in statement.sources:
                counts[answer.sources[n - 1].id] = counts.get(answer.sources[n - 1].id, 0) + 1
    return sorted(counts, key=lambda i: -counts[i])


def test_every_sentence_is_a_card_field_of_the_source_it_cites(
    ten_x_answer: tuple[SearchResult, Answer], records: dict[str, Record]
) -> None:
    _, answer = ten_x_answer
    for statement in answer.statements:
        assert statement.field, statement
        if statement.field == "question":  # the person's situation, restated
            assert not statement.sources and "10x" in statement.text
            continue
        (number,) = statement.sources
        record_id, field = statement.field.rsplit(":", 1)  # ids may hold a colon (paper:liif)
        # a paper and its model card are one entry of the list: a sentence of either cites it
        assert records[record_id].work == records[answer.sources[number - 1].id].work
        assert any(statement.text in text for text in field_text(records[record_id], field))


def test_explains_the_method_that_fits_the_situation(ten_x_answer: tuple[SearchResult, Answer]) -> None:
    _, answer = ten_x_answer
    assert {step.stage for step in answer.steps} >= set(REQUIRED_STAGES)
    assert set(explained(answer)) <= {"SISR-Any-LIIF-EDSR", "paper:liif"}
    # Input, Model and Output each come from the workflow field of that name
    for step in answer.steps:
        if step.stage != "why":
            (statement,) = step.statements
            assert statement.field and statement.field.endswith(f"workflow.{step.stage}")
    # the answer opens with the point that answers the question, then says the task
    opening, task = answer.task[:2]
    assert opening.field and opening.field.endswith(":explains") and "10x" in opening.text
    assert task.field and task.field.endswith(":task")


def anchor_of(records: dict[str, Record], embedder: Embedder, question: str, ids: list[str]) -> Answer:
    return Answerer(ExtractiveWriter(), embedder).answer(search_result(records, question, ids))


def test_an_exact_size_is_explained_by_an_arbitrary_scale_method(
    records: dict[str, Record], index_embedder: Embedder
) -> None:
    question = "I need exactly 1000x750 pixels from a small 300x200 picture, not a fixed 2x or 4x model"
    answer = anchor_of(
        records,
        index_embedder,
        question,
        ["SISR-x4-SwinIR", "SISR-x4-HAT", "SISR-Any-LIIF-EDSR", "paper:swinir", "paper:liif"],
    )
    assert explained(answer)[0] in {"SISR-Any-LIIF-EDSR", "paper:liif"}
    assert "1000x750" in answer.task[-1].text


def test_an_any_factor_question_is_explained_by_an_arbitrary_scale_method_with_zoomqas_among_the_sources(
    records: dict[str, Record], index_embedder: Embedder
) -> None:
    """Meta-SR (one network predicting its filters from the factor) and LIIF both answer it;
    the upscaler zoomqa runs is among the sources, to show it at work."""
    question = "Can one network upscale by any factor, like 2.7x or 6.3x, without training a separate model for every factor?"
    answer = anchor_of(
        records,
        index_embedder,
        question,
        ["paper:meta-sr", "paper:edsr", "SISR-Any-LIIF-EDSR", "SISR-x4-Real-ESRGAN", "paper:srno"],
    )
    assert explained(answer)[0] in {"SISR-Any-LIIF-EDSR", "paper:liif", "paper:meta-sr"}
    assert "SISR-Any-LIIF-EDSR" in {source.id for source in answer.sources}
    # ... unless the person asks for a faster method than it
    cheaper = (
        "These coordinate-based upscalers run a small MLP for every single output pixel, so an 8K output"
        " takes forever. Is there a cheaper way to get the same any-size upscaling?"
    )
    answer = anchor_of(
        records,
        index_embedder,
        cheaper,
        ["SISR-Any-LIIF-EDSR", "paper:lmf", "paper:meta-sr", "paper:liif"],
    )
    assert explained(answer)[0] == "paper:lmf"


def test_the_local_upscaler_is_called_in_when_only_an_arbitrary_scale_method_fits(
    records: dict[str, Record], index_embedder: Embedder
) -> None:
    fixed = ["SISR-x4-StableSR", "SISR-x4-Real-ESRGAN", "SISR-x4-BSRGAN", "paper:stablesr", "paper:espcn"]
    answer = anchor_of(
        records, index_embedder, "what's the best free tool to make my wallpaper 4K from 1080p?", fixed
    )
    assert [s.id for s in answer.sources][3] == "SISR-Any-LIIF-EDSR"  # after the retrieved models
    assert explained(answer)[0] == "SISR-Any-LIIF-EDSR"
    # a question a fixed-scale model answers gets only what was retrieved
    answer = anchor_of(
        records, index_embedder, "which upscaler removes the noise from my phone photos?", fixed
    )
    assert "SISR-Any-LIIF-EDSR" not in [s.id for s in answer.sources]


def test_compression_damage_is_explained_by_a_jpeg_method(
    records: dict[str, Record], index_embedder: Embedder
) -> None:
    question = "my photo came out of WhatsApp all blocky - which tool should I use before enlarging it?"
    answer = anchor_of(
        records,
        index_embedder,
        question,
        ["SISR-Any-LIIF-EDSR", "JPEG-FBCNN", "SISR-x4-HAT", "paper:liif", "paper:fbcnn"],
    )
    assert explained(answer)[0] in {"JPEG-FBCNN", "paper:fbcnn"}


def test_compression_of_an_unknown_quality_is_explained_by_a_method_for_every_quality(
    records: dict[str, Record], index_embedder: Embedder
) -> None:
    # ARCNN (one model per JPEG quality) shares the most words; "8x8 blocks" is not a size wanted
    question = (
        "whatsapp crushed my picture, there are 8x8 blocks and I have no idea what quality it was saved at"
    )
    answer = anchor_of(records, index_embedder, question, ["paper:arcnn", "paper:fbcnn"])
    assert explained(answer)[0] == "paper:fbcnn"


def test_a_picture_to_enlarge_is_not_explained_by_a_test_set(retriever: HybridRetriever) -> None:
    retrieved, work = asked(retriever, "upscale my scanned comic 3x")
    assert "paper:manga109" in retrieved  # a benchmark of drawn pages: close in words, no method
    assert work != "paper:manga109" and not work.startswith("dataset:")
    assert asked(retriever, "which comic pages are in Manga109?")[1] == "paper:manga109"


def test_a_factor_beyond_the_fixed_models_brings_the_point_about_large_factors(
    records: dict[str, Record], index_embedder: Embedder
) -> None:
    answer = anchor_of(
        records,
        index_embedder,
        "can I upscale 16x in one go?",
        ["SISR-Any-LIIF-EDSR", "paper:liif", "paper:meta-sr"],
    )
    assert any("x30" in s.text for s in points(answer))  # trained up to x4, still works at x10 or x30


def test_a_person_who_needs_true_detail_is_not_sent_to_a_generative_upscaler(
    retriever: HybridRetriever,
) -> None:
    retrieved, work = asked(retriever, "which model keeps the most original detail rather than inventing it?")
    assert GENERATIVE & set(retrieved)  # "detail" and "inventing" bring the GAN and diffusion cards
    assert work not in GENERATIVE
    # invented texture is welcome when realism is what the person asks for
    assert asked(retriever, "which model gives the most realistic texture?")[1] in GENERATIVE


def test_a_recommendation_prefers_a_model_that_runs_anywhere_unless_realism_or_a_gpu_is_asked_for(
    retriever: HybridRetriever,
) -> None:
    retrieved, work = asked(retriever, "what's the best upscaler right now?")
    assert "SISR-x4-StableSR" in retrieved  # its card says it needs a GPU
    assert work not in NEEDS_A_GPU
    gpu = "I have an RTX 4090, which upscaler gives the most realistic detail?"
    assert asked(retriever, gpu)[1] in NEEDS_A_GPU


def test_a_question_about_results_is_answered_with_the_result(
    records: dict[str, Record], index_embedder: Embedder
) -> None:
    # the card's other sentences share more words with the question ("synthetic images")
    question = "which tasks did DA-Fusion improve with its synthetic images?"
    answer = anchor_of(
        records, index_embedder, question, ["paper:da-fusion", "paper:dualaug", "paper:datacrafter"]
    )
    assert any("weed recognition" in s.text for s in points(answer))


def test_of_two_named_works_the_first_named_is_explained(retriever: HybridRetriever) -> None:
    retrieved, work = asked(retriever, "what does RDN have to do with LIIF?")
    assert "SISR-Any-LIIF-RDN" in retrieved  # the card that names both works
    # RDN itself, or the card of LIIF with an RDN encoder, which says what one does in the other
    assert work in {"paper:rdn", "SISR-Any-LIIF-RDN"}
    retrieved, work = asked(retriever, "what does LIIF have to do with RDN?")
    assert "paper:rdn" in retrieved and work in {"paper:liif", "SISR-Any-LIIF-EDSR", "SISR-Any-LIIF-RDN"}


def test_a_question_about_a_paper_explains_that_paper(
    records: dict[str, Record], index_embedder: Embedder
) -> None:
    question = "What does DualAug do with heavily augmented images?"
    answer = anchor_of(
        records,
        index_embedder,
        question,
        ["SISR-Any-LIIF-EDSR", "SISR-x4-Real-ESRGAN", "paper:liif", "paper:dualaug"],
    )
    assert explained(answer)[0] == "paper:dualaug"


def test_the_point_that_answers_the_question_is_in_the_answer(
    records: dict[str, Record], index_embedder: Embedder
) -> None:
    question = "What does the cell size input in LIIF do?"
    answer = anchor_of(
        records,
        index_embedder,
        question,
        ["SISR-Any-LIIF-EDSR", "SISR-Any-LIIF-RDN", "paper:liif", "paper:meta-sr"],
    )
    assert any("cell" in s.text.lower() for s in points(answer))


def test_a_point_about_the_persons_kind_of_picture_is_in_the_answer(
    records: dict[str, Record], index_embedder: Embedder
) -> None:
    question = "my anime screenshots look jaggy when enlarged, what should I use?"
    answer = anchor_of(
        records,
        index_embedder,
        question,
        ["SISR-x4-Real-ESRGAN", "SISR-x4-BSRGAN", "paper:real-esrgan", "paper:bsrgan"],
    )
    assert any("anime" in s.text.lower() for s in points(answer))


def test_a_comparison_adds_one_contrast_from_the_second_work(
    records: dict[str, Record], index_embedder: Embedder
) -> None:
    question = "How is Real-ESRGAN different from ESRGAN?"
    answer = anchor_of(
        records,
        index_embedder,
        question,
        ["SISR-x4-ESRGAN", "SISR-x4-Real-ESRGAN", "paper:esrgan", "paper:real-esrgan"],
    )
    cited = explained(answer)
    assert cited[0] in {"SISR-x4-Real-ESRGAN", "paper:real-esrgan"}
    assert {"SISR-x4-ESRGAN", "paper:esrgan"} & set(cited)


def test_a_comparison_explains_the_newer_work_whatever_the_word_order(
    records: dict[str, Record], index_embedder: Embedder
) -> None:
    question = "ESRGAN vs Real-ESRGAN: what changed?"
    answer = anchor_of(
        records,
        index_embedder,
        question,
        ["SISR-x4-ESRGAN", "SISR-x4-Real-ESRGAN", "paper:esrgan", "paper:real-esrgan"],
    )
    assert explained(answer)[0] in {"SISR-x4-Real-ESRGAN", "paper:real-esrgan"}


def test_a_comparison_of_works_from_one_year_explains_the_later_one(
    records: dict[str, Record], index_embedder: Embedder
) -> None:
    # Both appeared in 2021; the arXiv ids tell BSRGAN (March) from Real-ESRGAN (July), and
    # the older work's model card, first in retrieval order, must not win on that alone.
    question = "realesrgan vs bsrgan - how do they simulate the degradations for training?"
    answer = anchor_of(
        records,
        index_embedder,
        question,
        ["SISR-x4-BSRGAN", "paper:bsrgan", "SISR-x4-Real-ESRGAN", "paper:real-esrgan"],
    )
    assert explained(answer)[0] in {"SISR-x4-Real-ESRGAN", "paper:real-esrgan"}


def test_a_specialist_for_another_kind_of_picture_is_not_explained(
    records: dict[str, Record], index_embedder: Embedder
) -> None:
    plate = "Can AI upscaling recover a licence plate from blurry CCTV footage?"
    answer = anchor_of(
        records,
        index_embedder,
        plate,
        [
            "Face-CodeFormer",
            "Face-GFPGAN",
            "paper:instance-augmentation",
            "paper:perception-distortion",
            "SISR-x4-Real-ESRGAN",
        ],
    )
    assert explained(answer)[0] in {"paper:perception-distortion", "SISR-x4-Real-ESRGAN"}
    # a face: a face restorer (the work matcher calls GFPGAN in beside the retrieved CodeFormer)
    face = "is it possible to enhance a zoomed security camera frame to read a face?"
    faces = explained(anchor_of(records, index_embedder, face, ["Face-CodeFormer", "SISR-x4-Real-ESRGAN"]))
    assert faces[0] in {"Face-CodeFormer", "Face-GFPGAN"}


def test_a_lay_symptom_is_explained_by_the_work_whose_why_sentence_names_it(
    records: dict[str, Record], index_embedder: Embedder
) -> None:
    question = "why does my upscaled image look like an oil painting?"
    answer = anchor_of(
        records,
        index_embedder,
        question,
        ["SISR-x4-StableSR", "paper:srgan", "paper:real-esrgan", "paper:perception-distortion"],
    )
    assert explained(answer)[0] == "paper:real-esrgan"
    assert any("oil painting" in s.text for s in answer.statements)


def test_a_request_for_speed_is_explained_by_a_real_time_method(
    records: dict[str, Record], index_embedder: Embedder
) -> None:
    question = "which model is fastest for real-time upscaling?"
    answer = anchor_of(
        records,
        index_embedder,
        question,
        ["SISR-x4-StableSR", "SISR-x4-SwinIR", "paper:espcn", "paper:stablesr"],
    )
    assert explained(answer)[0] == "paper:espcn"


def test_a_work_that_needs_a_gpu_is_not_explained_to_someone_without_one(
    records: dict[str, Record], index_embedder: Embedder
) -> None:
    # StableSR's card says it needs a GPU, and that sentence is what the question matches best.
    question = "which upscaler runs on a laptop without a GPU?"
    ids = ["SISR-x4-StableSR", "SISR-x4-Real-ESRGAN", "SISR-Any-LIIF-EDSR", "paper:espcn", "paper:stablesr"]
    assert explained(anchor_of(records, index_embedder, question, ids))[0] == "SISR-Any-LIIF-EDSR"


def test_a_question_about_enlarging_alone_is_not_explained_by_a_denoiser(
    records: dict[str, Record], index_embedder: Embedder
) -> None:
    question = "how do transformers do image super resolution?"  # "super resolution", as people type it
    answer = anchor_of(
        records,
        index_embedder,
        question,
        ["SISR-x4-SwinIR", "paper:restormer", "paper:lapsrn", "paper:swinir"],
    )
    assert explained(answer)[0] in {"paper:swinir", "SISR-x4-SwinIR"}
    assert off_subject(analyse(question), records["paper:restormer"])
    # ... but a work whose own subject the question names is not off the subject, upscaler or not
    features = analyse("how do I upsample ViT features for segmentation?")
    assert not off_subject(features, records["paper:featsharp"])
    assert off_subject(
        analyse("does training on more data make upscalers better?"), records["paper:multiscale-samplers"]
    )


def test_a_symptom_followed_by_why_is_explained_by_the_work_that_causes_it(
    records: dict[str, Record], index_embedder: Embedder
) -> None:
    question = "the faces in my restored photo look fake and waxy, why?"
    answer = anchor_of(
        records,
        index_embedder,
        question,
        ["SISR-x4-Real-ESRGAN", "paper:sr3", "Face-GFPGAN", "Face-CodeFormer"],
    )
    assert explained(answer)[0] in {"Face-CodeFormer", "Face-GFPGAN"}
    assert any("plastic" in s.text for s in answer.statements)


def test_a_metric_named_in_a_why_question_is_the_yardstick_not_the_subject(
    records: dict[str, Record], index_embedder: Embedder
) -> None:
    question = "Why can't an upscaler be both accurate (high PSNR) and look natural at the same time?"
    answer = anchor_of(
        records,
        index_embedder,
        question,
        ["paper:perception-distortion", "paper:srgan", "metric:psnr"],
    )
    assert explained(answer)[0] == "paper:perception-distortion"
    what = anchor_of(
        records,
        index_embedder,
        "What is PSNR and how is it computed?",
        ["paper:perception-distortion", "metric:psnr"],
    )
    assert explained(what)[0] == "metric:psnr"


def test_sources_are_the_retrieved_records_with_their_own_links(
    ten_x_answer: tuple[SearchResult, Answer], records: dict[str, Record]
) -> None:
    result, answer = ten_x_answer
    # one entry per work (a model card before its paper), in retrieval order
    works = list(dict.fromkeys(records[h.record.id].work for h in result.hits))
    assert [records[s.id].work for s in answer.sources] == works
    assert [s.id for s in answer.sources] == ["OldPhoto-BOPBtL", "SISR-Any-LIIF-EDSR", "paper:edsr"]
    assert [s.number for s in answer.sources] == list(range(1, len(works) + 1))
    for source in answer.sources:
        assert source.links == records[source.id].links
        record = records[source.id]
        texts = [record.summary, record.task or "", *record.explains, *record.facts]
        assert source.why and any(source.why.rstrip("…")[:40] in text for text in texts)
    assert answer.sources[1].tool == "liif-edsr"


def test_renderings_carry_the_three_parts_and_every_link(ten_x_answer: tuple[SearchResult, Answer]) -> None:
    _, answer = ten_x_answer
    markdown, slack = render_markdown(answer), render_slack(answer)
    for heading in ("### Task", "### How it works", "### Papers and tools"):
        assert heading in markdown
    for source in answer.sources:
        for url in source.links.values():
            assert url in markdown
            assert f"<{url}|" in slack
    assert Answer.model_validate_json(render_json(answer)) == answer
    assert json.loads(render_json(answer))["writer"] == "extractive"


def test_slack_rendering_escapes_the_question(index_embedder: Embedder) -> None:
    # a refusal quotes the question: Slack must show it, not act on it
    question = "<!channel> how do I <b>cook</b> rice & beans?"
    refusal = Answerer(ExtractiveWriter(), index_embedder).answer(
        SearchResult(question=question, relevant=False)
    )
    slack = render_slack(refusal)
    assert "<!channel>" not in slack and "&lt;!channel&gt;" in slack and "&amp; beans" in slack


def test_nothing_relevant_is_said_plainly_without_calling_a_model(index_embedder: Embedder) -> None:
    # The fake model has no reply to give: calling it would raise.
    silent = ChatWriter("openai", GenericFakeChatModel(messages=iter([])))
    result = SearchResult(
        question="how long should I boil an egg?",
        relevant=False,
        nearest_topics=("arbitrary-scale super-resolution", "JPEG artifact removal"),
    )
    answer = Answerer(silent, index_embedder).answer(result)
    assert not answer.relevant and not answer.sources and not answer.steps
    assert answer.writer == "none" and answer.requested_writer == "openai"
    (message,) = answer.task
    assert "how long should I boil an egg?" in message.text
    assert "arbitrary-scale super-resolution, JPEG artifact removal" in message.text
    assert render_markdown(answer).startswith("### Nothing relevant found")


@pytest.mark.parametrize(
    ("question", "said"),
    [
        ("I blew up an old photo 10x and it stayed crisp - how?", "an enlargement of 10x, more than 4x"),
        ("can I enlarge by 2.5x?", "an enlargement of 2.5x"),
        ("reduce cat.png to 25%", None),  # no enlargement: the tool's refusal says why
    ],
)
def test_the_situation_names_only_an_enlargement_as_one(question: str, said: str | None) -> None:
    sentence = situation(analyse(question), read_situation_phrases(None)) or ""
    assert (said in sentence) if said else "enlargement" not in sentence


def test_a_card_summary_sentence_that_points_back_is_not_quoted_but_an_abstracts_is(
    records: dict[str, Record],
) -> None:
    """Quoted among a card's fields, "It underlies many diffusion upscalers" does not say what
    "it" is; in an added abstract, "it" is the one method the steps describe."""
    from zoomqa.agent.compose.evidence import passages_of

    sr3 = {p.text: p.quotable for p in passages_of(records["paper:sr3"], 1)}
    pointing = [text for text in sr3 if text.startswith("It underlies")]
    assert pointing and not any(sr3[text] for text in pointing)
    assert any(q and text.startswith("SR3 adapts") for text, q in sr3.items())
    abstract = Record(
        id="arxiv:2501.00001", kind="paper", title="ZorbSR: a method", authors=["A"], year=2025,
        arxiv_id="2501.00001",
        summary="We propose ZorbSR for image super-resolution. It takes a small photo and returns a larger one.",
    )  # fmt: skip
    quoted = {p.text: p.quotable for p in passages_of(abstract, 1)}
    assert quoted["It takes a small photo and returns a larger one."]
