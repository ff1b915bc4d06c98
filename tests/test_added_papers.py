"""Papers a user adds with `zoomqa index add` are answered from themselves.

Unit tests of the sentence roles and of names, then the real CLI over a real FAISS index: the
bundled cards plus a handful of real arXiv records read from ../shared (skipped without it).
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from added_papers import read_added_records, write_records
from typer.testing import CliRunner

from zoomqa.agent.compose.anchor import invents_detail, makes_any_scale, off_subject, task_labels
from zoomqa.agent.understand.question import analyse
from zoomqa.cli import app
from zoomqa.config import get_settings
from zoomqa.errors import ZoomqaError
from zoomqa.index.abstract_roles import read_vocabulary, sentence_role, tag_abstract
from zoomqa.index.embedding import Embedder
from zoomqa.index.names import coined_names, names_record, record_names
from zoomqa.index.records import Record
from zoomqa.index.retrieval import _vocabulary

runner = CliRunner()
URL = re.compile(r"https?://|this https url|github\.com", re.IGNORECASE)
NOTICE = re.compile(
    r"\b(code|codes|project page|available at|will be released|extensive experiments)\b", re.IGNORECASE
)


def paper(title: str, summary: str = "A method for image super-resolution.") -> Record:
    return Record(id="arxiv:2501.00001", kind="paper", title=title, authors=["A"], year=2025,
                  arxiv_id="2501.00001", summary=summary)  # fmt: skip


# --- sentence roles -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sentence",
    [
        "Code is available at https://github.com/someone/method.",
        "Our code will be released.",
        "Project page: https://example.org/method.",
        "Model, training code and dataset are available at this https URL",
        "The source code and pretrained models will be made publicly available.",
    ],
)
def test_code_and_url_lines_are_notices_never_quoted(sentence: str) -> None:
    assert sentence_role(sentence) == "notice"
    (tagged,) = tag_abstract(sentence)
    assert not tagged.quotable and tagged.fit == (0.0, 0.0, 0.0)


@pytest.mark.parametrize(
    "sentence",
    [
        "Extensive experiments show that our method outperforms the state of the art.",
        "The experimental results on several image sets demonstrate the effectiveness of the proposed network.",
        "Comprehensive experiments on benchmarks demonstrate its superiority.",
    ],
)
def test_bare_claims_of_experiments_are_not_explanations(sentence: str) -> None:
    assert sentence_role(sentence) == "evaluation"
    assert not tag_abstract(sentence)[0].quotable


def test_an_abstract_is_tagged_by_role_and_each_step_gets_its_own_sentence() -> None:
    abstract = (
        "Recently, diffusion models have improved super-resolution. "
        "They need many steps, which makes them slow. "
        "In this paper, we propose FastSR, a network that distils the diffusion model into one step. "
        "It takes a low-resolution image as input and predicts the residual with a small decoder. "
        "FastSR achieves a 10 times speedup and produces sharp high-resolution images. "
        "Extensive experiments show that FastSR outperforms the state of the art. "
        "Code is available at https://github.com/someone/fastsr."
    )
    tagged = tag_abstract(abstract)
    assert [t.role for t in tagged] == [
        "background",
        "background",
        "claim",
        "detail",
        "detail",
        "evaluation",
        "notice",
    ]
    best = [max(range(len(tagged)), key=lambda i, s=s: tagged[i].fit[s]) for s in range(3)]
    assert best == [3, 2, 4]  # input: what goes in; model: the claim; output: what comes out
    assert tagged[0].fit[1] == tagged[1].fit[1] == 0.0  # what others did is not this method


def test_a_broken_role_file_is_one_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "roles.json"
    bad.write_text(json.dumps({"never_quoted": ["notice"], "roles": {"nonsense": {}}, "stages": {}}))
    with pytest.raises(ZoomqaError, match="roles must be among"):
        read_vocabulary(bad)


# --- names ----------------------------------------------------------------------------------


def test_coined_names_are_found_in_any_case_and_ordinary_words_only_in_capitals() -> None:
    sinsr = paper("SinSR: Diffusion-Based Image Super-Resolution in a Single Step")
    assert names_record("what is sinsr?", sinsr) and names_record("How does SinSR work?", sinsr)
    assert not names_record("what is single step diffusion?", sinsr)
    gun = paper("GUN: Gradual Upsampling Network for single image super-resolution")
    assert names_record("what is GUN?", gun, {"gun"})
    assert not names_record("how do I clean my gun in a photo?", gun, {"gun"})
    assert names_record("what is DeblurGAN-v2?", paper("DeblurGAN-v2: Deblurring Faster and Better"))
    assert names_record(
        "what is C2D-ISR?", paper("C2D-ISR: Optimizing Attention-based Image Super-resolution")
    )


def test_a_title_without_a_coined_name_names_nothing() -> None:
    plain = paper("Image Super-Resolution Using Deep Convolutional Networks")
    assert coined_names(plain) == {}
    assert not names_record("image super-resolution using deep convolutional networks", plain)
    assert "super-resolution" not in coined_names(paper("Super-Resolution: A Survey"))
    topic = paper("WiFi Assisted Multi-WiGig AP Coordination for Future Multi-Gbps WLANs")
    assert not names_record("my wifi keeps dropping every evening, how do I fix it?", topic)


def test_question_analysis_reads_the_same_names() -> None:
    assert "sinsr" in record_names(paper("SinSR: Diffusion-Based Image Super-Resolution in a Single Step"))


def test_a_short_name_before_for_names_the_work_but_a_long_one_does_not() -> None:
    """Experts name "Local Texture Estimator for Implicit Representation Function" by its head."""
    assert "local texture estimator" in record_names(
        paper("Local Texture Estimator for Implicit Representation Function")
    )
    long_head = paper("A Very Deep and Wide Residual Network for Image Super-Resolution")
    assert not any(" " in name for name in record_names(long_head))


def test_the_retriever_reads_ordinary_words_from_the_embedders_vocabulary(embedder: Embedder) -> None:
    words = _vocabulary(embedder)
    assert {"gun", "ram", "cat"} <= words and "sinsr" not in words


# --- end to end: the real CLI, a real index -------------------------------------------------

INVENTED = {
    "arxiv_id": "2601.99999",
    "title": "ZorbSR: Zero-Order Residual Blending for Image Super-Resolution",
    "authors": ["A. Author"],
    "abstract": (
        "Recently, deep networks have made image super-resolution far better. "
        "However, they blur fine texture at large factors. "
        "In this paper, we propose ZorbSR, a network that blends zero-order residuals predicted "
        "from the low-resolution input with an attention decoder. "
        "It takes a low-resolution photo as input and refines it in three stages. "
        "ZorbSR produces sharper high-resolution images and runs twice as fast as SwinIR. "
        "Extensive experiments show that ZorbSR outperforms the state of the art. "
        "Code is available at https://github.com/example/zorbsr."
    ),
    "date": "2026-01-15",
    "github": [],
}


def ask_json(home: Path, question: str, monkeypatch: pytest.MonkeyPatch) -> dict:
    monkeypatch.setenv("ZOOMQA_HOME", str(home))
    get_settings.cache_clear()
    result = runner.invoke(app, ["ask", "--json", question])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def explained(answer: dict) -> str:
    """The source part 2 cites most (ties: the lower number), as the answer evaluation reads it."""
    numbers = {s["number"]: s["id"] for s in answer["sources"]}
    cited = [n for step in answer["steps"] for s in step["statements"] for n in s["sources"]]
    return numbers[min(set(cited), key=lambda n: (-cited.count(n), n))]


@pytest.fixture(scope="module")
def invented_home(bundled_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled index plus one paper no card is like, added through `zoomqa index add`."""
    home = tmp_path_factory.mktemp("invented-home")
    shutil.copytree(bundled_home / "index", home / "index")
    records = write_records([INVENTED], home / "added.jsonl")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ZOOMQA_HOME", str(home))
        get_settings.cache_clear()
        result = runner.invoke(app, ["index", "add", str(records)])
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    return home


def test_an_added_paper_named_in_the_question_is_explained_by_role(
    invented_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    answer = ask_json(invented_home, "what is zorbsr?", monkeypatch)
    assert answer["relevant"] and explained(answer) == "arxiv:2601.99999"
    steps = {step["stage"]: [s["text"] for s in step["statements"]] for step in answer["steps"]}
    assert steps["model"][0].startswith("In this paper, we propose ZorbSR")
    assert steps["input"][0].startswith("It takes a low-resolution photo as input")
    assert steps["output"][0].startswith("ZorbSR produces sharper")
    said = " ".join(text for texts in steps.values() for text in texts)
    assert "https://" not in said and "Code is available" not in said and "Extensive experiments" not in said
    assert "However, they blur" not in said  # the field before the paper explains other works


def test_an_added_paper_is_read_from_its_title_where_it_has_no_task_labels() -> None:
    """An arXiv record carries no task labels: its title says what it does, so an any-scale
    diffusion upscaler is neither off the subject of an enlargement nor below the any-scale tier."""
    record = Record(
        id="arxiv:2512.04699",
        kind="paper",
        title="OmniScaleSR: Scale-Controlled Diffusion Prior for Arbitrary-Scale Image Super-Resolution",
        authors=["A. Author"],
        year=2025,
        summary="A diffusion model enlarges images to any scale.",
    )
    question = analyse("how can I enlarge my photo 7.5x with realistic detail?")
    assert task_labels(record) == [record.title.lower()]
    assert makes_any_scale(record) and invents_detail(record)
    assert not off_subject(question, record)


def test_an_added_paper_does_not_make_off_topic_questions_relevant(
    invented_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert not ask_json(invented_home, "how do I sharpen a kitchen knife?", monkeypatch)["relevant"]


# --- end to end with real arXiv records from ../shared --------------------------------------

# Papers of the dev split whose abstracts carry a code or URL line, and one named by an
# ordinary word (GUN). Questions by name, as a person who added them would ask.
E2E = {
    "1908.03826": "what is DeblurGAN-v2?",
    "2503.23580": "what is DiT4SR?",
    "2510.00820": "how does NSARM work?",
    "2503.13740": "what is C2D-ISR?",
    "1703.04244": "what is GUN?",
}


@pytest.fixture(scope="module")
def added_home(bundled_home: Path, shared_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled index with the E2E papers added through `zoomqa index add`."""
    corpus = shared_dir / "corpus" / "arxiv_cv.jsonl.gz"
    if not corpus.is_file():
        pytest.skip(f"the shared arXiv corpus is not at {corpus}")
    home = tmp_path_factory.mktemp("added-home")
    shutil.copytree(bundled_home / "index", home / "index")
    records = write_records(read_added_records(shared_dir, list(E2E)), home / "added.jsonl")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ZOOMQA_HOME", str(home))
        get_settings.cache_clear()
        result = runner.invoke(app, ["index", "add", str(records)])
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    return home


def test_an_added_paper_is_explained_for_a_question_that_describes_it_without_its_name(
    added_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    question = (
        "is there a super-resolution network that enlarges the picture gradually in several "
        "small upsampling steps instead of all at once?"
    )
    assert explained(ask_json(added_home, question, monkeypatch)) == "arxiv:1703.04244"  # GUN


@pytest.mark.parametrize("arxiv_id", list(E2E))
def test_what_is_an_added_paper_is_answered_from_that_paper(
    added_home: Path, arxiv_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    answer = ask_json(added_home, E2E[arxiv_id], monkeypatch)
    assert answer["relevant"], answer
    assert explained(answer) == f"arxiv:{arxiv_id}"  # part 2 explains this paper
    assert {"input", "model", "output"} <= {step["stage"] for step in answer["steps"]}
    part2 = [s for step in answer["steps"] for s in step["statements"]]
    assert not [s["text"] for s in part2 if URL.search(s["text"])]
    abstract = [s["text"] for s in part2 if s["field"].endswith(":summary")]
    assert abstract and not [text for text in abstract if NOTICE.search(text)]
