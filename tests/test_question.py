"""Question analysis: intent, constraints and the works a question names, and which work that
reading makes the answer explain when retrieval cannot tell the works apart (no model involved)."""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from zoomqa.agent.compose.anchor import (
    CONSTRAINT_TIER,
    anchor_scores,
    choose_anchor,
    invents_detail,
    is_measure,
    off_subject,
    subject_tier,
    tiers,
)
from zoomqa.agent.understand.question import (
    analyse,
    content_stems,
    content_words,
    named_in,
    record_names,
    situation_terms,
)
from zoomqa.index.records import Record, read_bundled_corpus


@pytest.mark.parametrize(
    ("question", "intent"),
    [
        ("LIIF vs Meta-SR: which is better for 3.5x?", "compare"),
        ("What's the difference between ESRGAN and Real-ESRGAN?", "compare"),
        ("which tool should I use to fix blocky JPEG photos?", "which"),
        ("How can I remove scratches from my grandma's picture?", "which"),
        ("what model would you recommend for anime art", "which"),
        ("what would you use to upscale scanned comic pages?", "which"),
        ("GFPGAN or CodeFormer for a tiny blurry face?", "compare"),
        ("Why do GAN upscalers invent texture that was never there?", "why"),
        ("how come faces look sharper than the background after restoration", "why"),
        ("What data was LIIF trained on?", "data"),
        ("how are the LR/HR pairs made for training", "data"),
        ("Can I upscale a photo on a laptop without a GPU?", "can"),
        ("is it possible to zoom 30x", "can"),
        ("What does the cell size input in LIIF do?", "what"),
        ("explain the perception-distortion tradeoff", "what"),
        ("any good upscaler for pixel art sprites?", "which"),
        ("I'm looking for something that can sharpen a blurry screenshot", "which"),
        ("what's the best free tool to make my wallpaper 4K?", "which"),
        ("suggestions for restoring a faded 1970s photo?", "which"),
        ("my scanned slides are full of dust spots, what can remove them?", "which"),
        ("is there a face restorer where I can choose between looking like the person or prettier?", "which"),
        ("help me pick an upscaler for product photos", "which"),
        ("is there a cheaper way to get any-size upscaling?", "how"),  # a method, not a tool to run
        ("how do I pick between ESRGAN and SwinIR?", "compare"),
        ("why is there a need for a discriminator?", "why"),
        ("I blew up an old photo 10x and it stayed crisp - how?", "how"),
        ("how does arbitrary-scale super-resolution work", "how"),
        ("the faces in my restored photo look fake and waxy, why?", "why"),
        ("my upscale looks like oil paint. any idea why?", "why"),
        ("what causes the halos around edges after upscaling?", "why"),
    ],
)
def test_intent(question: str, intent: str) -> None:
    assert analyse(question).intent == intent


@pytest.fixture(scope="module")
def corpus() -> tuple[Record, ...]:
    return tuple(read_bundled_corpus())


def explained(question: str, corpus: tuple[Record, ...], ids: list[str]) -> list[str]:
    """The works of ``ids`` in the order the answer would pick them to explain, when each matches
    the question equally well (the same passage similarity, the same retrieval score): what is
    left to tell them apart is the reading of the question. A tie goes to the work listed first."""
    by_id = {r.id: r for r in corpus}
    records = [by_id[i] for i in ids]
    scores = anchor_scores(analyse(question), records, [0.5] * len(ids), [1.0] * len(ids))
    order = sorted(range(len(ids)), key=lambda n: (-scores[n], n))
    assert order[0] == choose_anchor(scores) - 1  # the first is the anchor the answer takes
    return [ids[n] for n in order]


def test_a_factor_beyond_the_fixed_models_needs_an_arbitrary_scale_method(corpus: tuple[Record, ...]) -> None:
    question = "I blew up an old photo 10x and it stayed crisp - how?"
    ten_x = analyse(question)
    assert ten_x.constraints.scale == 10 and ten_x.constraints.beyond_fixed
    assert ten_x.constraints.needs_arbitrary_scale
    assert "old_photo" in ten_x.constraints.damage and not ten_x.constraints.fix_requested
    # the old photo is the story, not a repair request: only the scale decides the method
    assert explained(question, corpus, ["paper:old-photos", "paper:liif"])[0] == "paper:liif"
    # ... and a factor the fixed models make gives an arbitrary-scale method no edge
    assert explained("upscale my photo 4x", corpus, ["paper:hat", "paper:liif"])[0] == "paper:hat"


def test_a_source_that_cannot_make_the_asked_size_sits_below_one_that_can(corpus: tuple[Record, ...]) -> None:
    by_id = {r.id: r for r in corpus}
    fixed, any_scale = by_id["paper:hat"], by_id["paper:liif"]
    exact = analyse("what's the best free tool to make my wallpaper exactly 3840x2160?")
    assert list(tiers(exact, [fixed, any_scale])) == [-CONSTRAINT_TIER, 0.0]
    # however strongly the other signals favour the fixed-scale work
    scores = anchor_scores(exact, [fixed, any_scale], [0.9, 0.4], [1.0, 0.5], [0.6, 0.0])
    assert choose_anchor(scores) == 2
    assert list(tiers(exact, [fixed])) == [0.0]  # no source can: the constraint decides nothing
    for other in (
        "my scratched photo needs to be exactly 3840x2160",  # a repair comes first
        "HAT or LIIF to make my wallpaper exactly 3840x2160?",  # a comparison of named works
        "upscale my photo 4x",  # a factor the fixed models make
    ):
        analysis = analyse(other)  # only the subject's tier, if any
        assert list(tiers(analysis, [fixed, any_scale])) == list(
            subject_tier(analysis, [fixed, any_scale])
        ), other


def test_a_work_that_needs_a_gpu_sits_below_one_that_does_not_for_a_person_without_one(
    corpus: tuple[Record, ...],
) -> None:
    by_id = {r.id: r for r in corpus}
    heavy, light = by_id["SISR-x4-Real-ESRGAN"], by_id["SISR-Any-LIIF-EDSR"]
    assert heavy.traits is not None and heavy.traits.hardware == "gpu"
    for question in ("best upscaler without a gpu", "i dont have a gpu, what can enlarge my photos?"):
        analysis = analyse(question)
        assert analysis.constraints.no_gpu and analysis.constraints.cpu_only, question
        assert list(tiers(analysis, [heavy, light])) == [-CONSTRAINT_TIER, 0.0], question
        scores = anchor_scores(analysis, [heavy, light], [0.9, 0.4], [1.0, 0.5], [0.6, 0.0])
        assert choose_anchor(scores) == 2, question
    for other in (
        "can I run Real-ESRGAN without a gpu?",  # named: the question is about that work
        "best upscaler for my gaming laptop",  # a laptop may well have a GPU
        "which upscaler is best for anime?",  # nothing said about hardware
    ):
        analysis = analyse(other)
        assert list(tiers(analysis, [heavy, light])) == list(subject_tier(analysis, [heavy, light])), other
    assert list(tiers(analyse("no gpu here"), [heavy])) == [0.0]  # no source can: nothing decided


def test_a_work_the_person_tried_and_asks_an_alternative_to_is_the_contrast_not_the_answer(
    corpus: tuple[Record, ...],
) -> None:
    by_id = {r.id: r for r in corpus}
    tried, other = by_id["Face-GFPGAN"], by_id["Face-CodeFormer"]
    question = "GFPGAN changed my dad's face too much, anything more faithful?"
    analysis = analyse(question)
    assert analysis.constraints.alternative
    assert analyse("tried GFPGAN but the eyes came out wrong, what else is there?").constraints.alternative
    assert analyse(
        "LIIF zooms by any amount but looks soft. anything similar but sharper?"
    ).constraints.alternative
    assert analyse("liif is too heavy for our gpu budget. any cheaper variant?").constraints.alternative
    assert named_in(analysis, (tried, other), contrasts=False) == []  # named only as the contrast
    assert list(tiers(analysis, [tried, other])) == [-CONSTRAINT_TIER, 0.0]
    scores = anchor_scores(analysis, [tried, other], [0.9, 0.4], [1.0, 0.5], [0.6, 0.0])
    assert choose_anchor(scores) == 2
    for asked in (
        "how does GFPGAN work?",  # no alternative asked
        "what else can GFPGAN do?",  # about the work itself
        "GFPGAN or CodeFormer: which is better for a tiny face?",  # a comparison of named works
        "why does GFPGAN work on faces where other upscalers fail?",  # others as the contrast
    ):
        assert not analyse(asked).constraints.alternative or analyse(asked).intent == "compare", asked
        assert list(tiers(analyse(asked), [tried, other])) == list(
            subject_tier(analyse(asked), [tried, other])
        ), asked


def test_exact_and_non_integer_sizes_need_an_arbitrary_scale_method() -> None:
    exact = analyse("I need exactly 1000x750 from a 320x240 thumbnail, not a fixed 2x or 4x model")
    assert exact.constraints.size == (1000, 750) and exact.constraints.needs_arbitrary_scale
    assert exact.constraints.scale is None  # "not a fixed 2x" rules a factor out
    odd = analyse("can I enlarge by 2.5x?")
    assert odd.constraints.non_integer and odd.constraints.needs_arbitrary_scale
    plain = analyse("upscale my photo 4x")
    assert plain.constraints.scale == 4 and not plain.constraints.needs_arbitrary_scale


def test_compression_damage_comes_before_the_scale(corpus: tuple[Record, ...]) -> None:
    question = "my WhatsApp photo is all blocky, I want it 8x bigger and clean"
    assert "jpeg" in analyse(question).constraints.damage
    # enlarging the blocks only enlarges them: a JPEG method first, the one for every quality
    # first of all (WhatsApp: a quality nobody knows), the arbitrary-scale method after them
    assert explained(question, corpus, ["paper:liif", "paper:arcnn", "paper:fbcnn"]) == [
        "paper:fbcnn",
        "paper:arcnn",
        "paper:liif",
    ]


@pytest.mark.parametrize(
    ("question", "flag"),
    [
        ("restore the faces in a group selfie", "faces"),
        ("upscale an anime screenshot", "illustration"),
        ("enlarge on CPU only, no GPU", "cpu_only"),
        ("a cheaper way to get the same any-size upscaling?", "any_size"),
        ("which model is fastest for real-time upscaling?", "fast"),
        ("an 8K output takes forever", "fast"),
        ("my blurry photo got sharp after 4x, how?", "enlarging"),
        ("how does a computer make a tiny picture bigger?", "enlarging"),
        ("how do transformers do image super resolution?", "enlarging"),
        ("my real phone photos come out a mess", "real_world"),
        ("a noisy and blurry scan", "real_world"),
        ("blocks everywhere and I have no idea what quality it was saved at", "real_world"),
    ],
)
def test_flags(question: str, flag: str) -> None:
    assert getattr(analyse(question).constraints, flag)


def test_speed_is_a_requirement_only_when_asked_for(corpus: tuple[Record, ...]) -> None:
    fastest = "which model is fastest for real-time upscaling?"
    assert explained(fastest, corpus, ["paper:swinir", "paper:hat", "paper:espcn"])[0] == "paper:espcn"
    for question in ("speed doesn't matter, I want the most detail", "it is not fast enough to matter"):
        assert not analyse(question).constraints.fast
        assert explained(question, corpus, ["paper:hat", "paper:espcn"])[0] == "paper:hat"


def test_situation_terms_name_the_kinds_of_picture_and_damage_a_text_speaks_of() -> None:
    assert situation_terms("a smaller model tuned for anime illustrations") == {"illustration"}
    assert situation_terms("restores blurry faces in JPEG photos") == {"faces", "blur", "jpeg"}
    assert situation_terms("LIIF decodes a continuous image") == frozenset()
    assert content_stems("which tasks did it improve?") & content_stems("it improved two tasks") == {
        "task",
        "improv",
    }
    assert situation_terms("can I upscale 16x in one go?") == {"large_scale"}
    assert situation_terms("it still works at x10 or x30") == {"large_scale"}
    assert situation_terms("enlarging a 256x256 picture 4x") == frozenset()  # a size and a fixed factor
    assert situation_terms("can you upscale a photo by 2.5 times?") == {"non_integer"}
    assert situation_terms("any output size, even 3.7x or 10x") == {"non_integer", "large_scale"}
    assert situation_terms("non-integer factors") == {"non_integer"}
    assert situation_terms("can it make the blurry text on a sign readable?") == {"text", "blur"}


def test_damage_kinds() -> None:
    c = analyse("a noisy, blurry, scratched old family photo with jpeg artifacts").constraints
    assert c.damage == {"noise", "blur", "scratches", "old_photo", "jpeg"}
    assert analyse("what is PSNR?").constraints.damage == frozenset()


def test_mixed_or_unknown_damage_prefers_a_blind_method(corpus: tuple[Record, ...]) -> None:
    phone = "which methods handle my real phone photos with noise, JPEG and a bit of shake?"
    assert explained(phone, corpus, ["paper:arcnn", "paper:bsrgan"])[0] == "paper:bsrgan"
    assert explained(phone, corpus, ["paper:hat", "paper:arcnn"])[0] == "paper:arcnn"  # the JPEG still counts
    # compression alone stays a compression question, with blind methods next in line
    blocky = "8x8 blocks everywhere, how do I fix it?"
    assert explained(blocky, corpus, ["paper:bsrgan", "paper:arcnn"])[0] == "paper:arcnn"
    assert explained(blocky, corpus, ["paper:hat", "paper:bsrgan"])[0] == "paper:bsrgan"
    assert analyse(blocky).constraints.size is None  # the blocks are not the size wanted
    # ... and of an unknown quality, or saved again and again, one network for every quality first
    unknown = "8x8 blocks everywhere and no idea what quality it was saved at"
    assert analyse(unknown).constraints.unknown_quality
    assert explained(unknown, corpus, ["paper:arcnn", "paper:fbcnn"])[0] == "paper:fbcnn"
    assert analyse("it came through whatsapp all blocky").constraints.unknown_quality
    known = "blocky jpeg saved at quality 30"
    assert not analyse(known).constraints.unknown_quality
    assert explained(known, corpus, ["paper:arcnn", "paper:fbcnn"])[0] == "paper:arcnn"  # no edge for FBCNN
    assert analyse("what is PSNR?").constraints.real_world is False
    assert analyse("explain the perception-distortion tradeoff").constraints.enlarging is False


def test_repair_requests_prefer_restoration_methods(corpus: tuple[Record, ...]) -> None:
    fix = "how do I fix scratches on an old photo of my grandparents?"
    assert (
        explained(fix, corpus, ["paper:gfpgan", "paper:real-esrgan", "paper:old-photos"])[0]
        == "paper:old-photos"
    )
    faces = "which tool restores blurry faces in portraits?"
    assert (
        explained(faces, corpus, ["paper:real-esrgan", "paper:restormer", "paper:gfpgan"])[0]
        == "paper:gfpgan"
    )


def test_content_words_drop_the_words_that_carry_no_topic() -> None:
    assert content_words("What does the cell size input in LIIF do?") == {"cell", "size", "input", "liif"}


def test_names_of_works(corpus: tuple[Record, ...]) -> None:
    by_id = {r.id: r for r in corpus}
    assert "liif" in record_names(by_id["SISR-Any-LIIF-EDSR"])
    assert "real-esrgan" in record_names(by_id["paper:real-esrgan"])
    assert "dualaug" in record_names(by_id["paper:dualaug"])
    assert "real" not in record_names(by_id["paper:real-t2i-realism"])  # an everyday word
    assert "meta-sr" in record_names(by_id["paper:meta-sr"])
    # A capitalised compound in a title is a phrase, not the work's name.
    assert record_names(by_id["paper:srno"]) & {"super-resolution", "superresolution"} == set()
    assert "photo-realistic" not in record_names(by_id["paper:srgan"])
    assert "real-time" not in record_names(by_id["paper:espcn"])
    assert record_names(by_id["paper:zssr"]) == {"zssr"}


def test_named_works_in_the_order_named(corpus: tuple[Record, ...]) -> None:
    records = tuple(
        r for r in corpus if r.id in {"paper:esrgan", "paper:real-esrgan", "paper:meta-sr", "paper:liif"}
    )
    ids = [r.id for r in records]
    compare = analyse("How is Real-ESRGAN different from ESRGAN?")
    assert [ids[n - 1] for n in named_in(compare, records)] == ["paper:real-esrgan", "paper:esrgan"]
    assert [ids[n - 1] for n in named_in(analyse("LIIF or Meta-SR for 3.5x?"), records)] == [
        "paper:liif",
        "paper:meta-sr",
    ]
    assert named_in(analyse("how do GANs upscale?"), records) == []


def test_file_names_are_not_damage() -> None:
    request = analyse("upscale ./old/wedding.jpg to 1000x750 px")
    assert request.constraints.damage == frozenset() and request.constraints.size == (1000, 750)
    assert "jpeg" in analyse("fix the jpeg blocks in wedding.png").constraints.damage


def test_damage_ruled_out_is_not_damage() -> None:
    assert analyse("make a tiny picture bigger without it going blocky").constraints.damage == frozenset()


def test_names_without_hyphens(corpus: tuple[Record, ...]) -> None:
    records = tuple(r for r in corpus if r.id in {"paper:real-esrgan", "paper:bsrgan"})
    assert len(named_in(analyse("realesrgan vs bsrgan - how do they simulate degradation?"), records)) == 2


def test_a_work_named_as_the_contrast_comes_last(corpus: tuple[Record, ...]) -> None:
    records = tuple(r for r in corpus if r.id in {"metric:psnr", "paper:lpips"})
    ids = [r.id for r in records]
    found = named_in(analyse("is there a score better than PSNR, like LPIPS?"), records)
    assert [ids[n - 1] for n in found] == ["paper:lpips", "metric:psnr"]
    assert [
        ids[n - 1] for n in named_in(analyse("a score better than PSNR?"), records, contrasts=False)
    ] == []


@pytest.mark.parametrize(
    "question",
    [
        "how does meta-sr pick its weights per scale, and how does it compare with liif?",
        "compared to liif, is meta-sr slower?",
    ],
)
def test_a_work_the_question_compares_with_is_the_contrast(corpus: tuple[Record, ...], question: str) -> None:
    records = tuple(r for r in corpus if r.id in {"paper:meta-sr", "paper:liif"})
    ids = [r.id for r in records]
    assert [ids[n - 1] for n in named_in(analyse(question), records, contrasts=False)] == ["paper:meta-sr"]


def test_detail_that_must_be_true_prefers_the_psnr_oriented_methods(corpus: tuple[Record, ...]) -> None:
    faithful = "which model keeps the most original detail rather than inventing it?"
    assert analyse(faithful).constraints.faithful
    assert explained(faithful, corpus, ["paper:stablesr", "paper:espcn", "paper:hat"]) == [
        "paper:hat",  # the PSNR-oriented line of work
        "paper:espcn",
        "paper:stablesr",  # a diffusion model invents detail
    ]
    assert analyse("can upscaling recover a licence plate number?").constraints.faithful
    assert not analyse("which upscaler gives the most realistic texture?").constraints.faithful


def test_lay_words_for_a_bigger_picture_and_for_faces() -> None:
    assert analyse("my cousin's baby photo is tiny, can it go on a big canvas?").constraints.enlarging
    assert analyse("I want it as a poster").constraints.enlarging
    assert analyse("the scan of my old passport photo is fuzzy").constraints.faces


def test_realism_or_a_gpu_makes_a_heavy_model_a_fair_recommendation() -> None:
    assert analyse("I have an RTX 4090, what should I use?").constraints.heavy_ok
    assert analyse("what gives the most realistic result?").constraints.heavy_ok
    assert not analyse("which upscaler runs on a laptop without a GPU?").constraints.heavy_ok
    assert not analyse("what's the best upscaler right now?").constraints.heavy_ok


def test_content_stems_are_right_when_threads_stem_at_once():
    """The Slack bot's workers analyse questions concurrently; a shared stemmer mixed their words."""
    texts = [f"upscaling improved pictures number{i} denoising compressed photographs" for i in range(3000)]
    content_stems.cache_clear()
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads often, as a loaded bot does
    try:
        with ThreadPoolExecutor(max_workers=16) as pool:
            concurrent = list(pool.map(content_stems, texts))
    finally:
        sys.setswitchinterval(interval)
    content_stems.cache_clear()
    assert concurrent == [content_stems(t) for t in texts]


def test_nothing_to_train_on_prefers_a_method_that_learns_from_the_picture_itself(
    corpus: tuple[Record, ...],
) -> None:
    question = (
        "our thermal camera images are tiny and there is no training data for them - how can I enlarge one?"
    )
    reading = analyse(question)
    assert reading.constraints.no_training_data
    assert reading.preferred_tasks[0] == "zero-shot"
    assert explained(question, corpus, ["paper:esrgan", "paper:zssr"])[0] == "paper:zssr"
    for ordinary in ("how do I enlarge my phone photo?", "which dataset should I train an upscaler on?"):
        assert not analyse(ordinary).constraints.no_training_data


def test_the_kind_of_work_is_read_from_a_cards_traits(corpus: tuple[Record, ...]) -> None:
    by_id = {r.id: r for r in corpus}
    # Real-ESRGAN's task labels say "blind super-resolution"; its traits say it draws detail
    assert invents_detail(by_id["paper:real-esrgan"]) and not invents_detail(by_id["paper:rcan"])
    assert is_measure(by_id["dataset:div2k"]) and is_measure(by_id["metric:psnr"])
    assert not is_measure(by_id["paper:manga109"].model_copy(update={"traits": None, "tasks": ["comics"]}))
    enlarge = analyse("how do I make my photo 4x bigger?")
    # a denoiser does not enlarge; an image classifier is about something else
    assert off_subject(enlarge, by_id["paper:restormer"]) and off_subject(
        enlarge, by_id["paper:imagenet-hard"]
    )
    assert not off_subject(enlarge, by_id["paper:hat"]) and not off_subject(enlarge, by_id["metric:psnr"])
    # a record without traits (a paper added from arXiv) is read from its task labels
    added = by_id["paper:esrgan"].model_copy(update={"traits": None, "tasks": ["diffusion super-resolution"]})
    assert invents_detail(added) and not off_subject(enlarge, added)


def test_a_video_is_explained_by_a_video_method_even_at_a_size_only_any_scale_models_make(
    corpus: tuple[Record, ...],
) -> None:
    question = "want to make our old 480p camcorder videos look ok on the 4k tv, frame by frame or something smarter?"
    assert analyse(question).constraints.video
    ids = ["SISR-Any-LIIF-EDSR", "SISR-x4-Real-ESRGAN", "paper:basicvsr"]
    assert explained(question, corpus, ids)[0] == "paper:basicvsr"
    # a still photo is not a video, and a video card is a graphics card
    assert explained("enlarge my 480p photo to 4k", corpus, ids)[0] == "SISR-Any-LIIF-EDSR"
    assert not analyse("my video card is old, which upscaler runs on it?").constraints.video
    assert not analyse("what resolution do CLIP-style encoders use?").constraints.video


def test_a_fixed_scale_work_trained_for_the_asked_factor_can_make_it(corpus: tuple[Record, ...]) -> None:
    by_id = {r.id: r for r in corpus}
    records = [by_id["SISR-Any-LIIF-EDSR"], by_id["paper:lapsrn"], by_id["paper:edsr"]]
    eight = analyse("my photo is tiny and i need it 8 times bigger, is there one built for that big a jump?")
    assert list(tiers(eight, records)) == [0.0, 0.0, -CONSTRAINT_TIER]  # LapSRN was trained for 8x
    odd = analyse("i need it 7 times bigger")
    assert list(tiers(odd, records)) == [0.0, -CONSTRAINT_TIER, -CONSTRAINT_TIER]
    textures = analyse("the textures are 64x64 and i want 512x512, what makes that in one go?")
    assert textures.constraints.size_factor == 8
    assert list(tiers(textures, records)) == [0.0, 0.0, -CONSTRAINT_TIER]  # 64 -> 512 is LapSRN's 8x
