"""`zoomqa faq` end to end: real index, real embedder, real CLI, the page in headless Chromium."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_writer_openai import Reply, ScriptedServer
from typer.testing import CliRunner

from zoomqa.agent.doors.faq.generator import WRITE_EVERY, group_questions
from zoomqa.cli import app
from zoomqa.config import get_settings
from zoomqa.index.embedding import Embedder

runner = CliRunner()
FIXTURES = Path(__file__).parent / "fixtures"
CHROMIUM = Path("/usr/bin/chromium")
EGG = "How do I boil an egg so the yolk stays runny?"
QUESTIONS = [
    "How can I make a small photo bigger without it going blurry?",
    "How do I enlarge a little picture so it doesn't get blurry?",
    "What is super-resolution?",
    "what is   Super-Resolution?",
    "I blew up an old photo 10x and it stayed crisp - how?",
    EGG,
    "How do I get rid of JPEG blocks when I enlarge a picture?",
]


def without_timings(answer: dict) -> dict:
    return {key: value for key, value in answer.items() if key != "timings"}


def _home_with_index(bundled_home: Path, path: Path) -> Path:
    """A home of its own (the FAQ cache is written there) with a copy of the bundled index."""
    shutil.copytree(bundled_home / "index", path / "index")
    return path


@pytest.fixture(scope="module")
def module_home(bundled_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _home_with_index(bundled_home, tmp_path_factory.mktemp("faq-home"))


@pytest.fixture
def faq_home(module_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """One home for this module's in-process tests: their FAQ cache is shared."""
    monkeypatch.setenv("ZOOMQA_HOME", str(module_home))
    get_settings.cache_clear()
    return module_home


@pytest.fixture
def question_file(tmp_path: Path) -> Path:
    path = tmp_path / "questions.txt"
    path.write_text("# a comment, then a blank line\n\n" + "\n".join(QUESTIONS) + "\n", encoding="utf-8")
    return path


# Paraphrases of the hand-written pairs that any reader merges: the same words spelled
# otherwise, the same question turned round, the same factor written two ways.
OBVIOUS_PARAPHRASES = [
    ("what is super resolution", "What is super-resolution?"),
    ("Is upscaling the same thing as sharpening?", "Are sharpening and upscaling different?"),
    ("How do I make a photo 4 times bigger?", "How can I enlarge a picture 4x?"),
]


def test_different_questions_stay_apart_and_obvious_paraphrases_merge_on_hand_written_pairs(
    embedder: Embedder, tmp_path: Path
) -> None:
    pairs = [json.loads(line) for line in (FIXTURES / "faq_pairs.jsonl").read_text().splitlines()]
    cached = embedder.with_cache(tmp_path / "vectors.sqlite")
    group_questions([q for p in pairs for q in (p["a"], p["b"])], cached)  # each phrasing embedded once
    merged = {(p["a"], p["b"]): len(group_questions([p["a"], p["b"]], cached)) == 1 for p in pairs}
    # a wrong merge hides one question's answer behind another's: none of the different pairs
    assert [p for p in pairs if not p["same"] and merged[p["a"], p["b"]]] == []
    assert {pair: merged[pair] for pair in OBVIOUS_PARAPHRASES} == dict.fromkeys(OBVIOUS_PARAPHRASES, True)


def test_grouping_merges_paraphrases_in_list_order_and_keeps_every_phrasing(embedder: Embedder) -> None:
    groups = group_questions(
        [*QUESTIONS, "How do I enlarge a photo 2x?", "How do I enlarge a photo 8x?"], embedder
    )
    assert [(g.question, g.aliases) for g in groups] == [
        (QUESTIONS[0], (QUESTIONS[1],)),
        (QUESTIONS[2], ("what is Super-Resolution?",)),
        (QUESTIONS[4], ()),
        (EGG, ()),
        (QUESTIONS[6], ()),
        ("How do I enlarge a photo 2x?", ()),  # 0.90 cosine, but another scale: another question
        ("How do I enlarge a photo 8x?", ()),
    ]


def test_the_three_formats_hold_the_same_entries_and_the_not_covered_section(
    faq_home: Path, question_file: Path, tmp_path: Path
) -> None:
    first = runner.invoke(app, ["faq", str(question_file), "-o", str(tmp_path / "faq.json")])
    assert first.exit_code == 0, first.output
    faq = json.loads((tmp_path / "faq.json").read_text())
    assert set(faq) == {"entries", "not_covered", "index", "writer"}
    assert [(e["question"], e["aliases"]) for e in faq["entries"]] == [
        (QUESTIONS[0], [QUESTIONS[1]]),
        (QUESTIONS[2], ["what is Super-Resolution?"]),
        (QUESTIONS[4], []),
        (QUESTIONS[6], []),
    ]
    [egg] = faq["not_covered"]
    assert egg["question"] == EGG and EGG in egg["reason"] and "no grounded answer" in egg["reason"]
    assert egg["nearest_topics"] and all(topic in egg["reason"] for topic in egg["nearest_topics"])
    assert faq["writer"] == "extractive" and faq["index"]["records"] > 0 and len(faq["index"]["digest"]) == 64
    stats = json.loads(runner.invoke(app, ["index", "stats", "--json"]).stdout)
    assert faq["index"]["records"] == stats["records"] and faq["index"]["embedder"] == stats["embedder"]
    for entry in faq["entries"]:  # the entry's answer is what `zoomqa ask --json` prints
        asked = runner.invoke(app, ["ask", entry["question"], "--json"])
        assert asked.exit_code == 0, asked.output
        assert without_timings(entry["answer"]) == without_timings(json.loads(asked.stdout))
        assert entry["answer"]["relevant"] and entry["answer"]["sources"]

    markdown = runner.invoke(app, ["faq", str(question_file), "--format", "md"])
    assert markdown.exit_code == 0, markdown.output
    assert "5 answers from the cache, 0 newly written" in " ".join(markdown.stderr.split())
    text = markdown.stdout
    headings = [line[3:] for line in text.splitlines() if line.startswith("## ")]
    assert headings == ["Contents", *(e["question"] for e in faq["entries"]), "Not covered"]
    assert "- [What is super-resolution?](#what-is-super-resolution)" in text
    assert "- [Not covered](#not-covered) (1)" in text
    assert "Also asked as: *How do I enlarge a little picture so it doesn't get blurry?*" in text
    assert text.count("### Task") == 4 and text.count("### Papers and tools") == 4
    assert faq["entries"][0]["answer"]["sources"][0]["links"]["arxiv"] in text
    assert text.index("## Not covered") < text.index(EGG)  # never answered as an entry

    html = tmp_path / "faq.html"
    page = runner.invoke(app, ["faq", str(question_file), "-o", str(html)])
    assert page.exit_code == 0, page.output
    source = html.read_text()
    for forbidden in ("<script", "<link", "<img", "src=", "url(", "@import"):
        assert forbidden not in source
    assert source.count("<article id=") == 5 and '<article id="not-covered">' in source


def test_a_question_set_jsonl_is_read_too(faq_home: Path) -> None:
    result = runner.invoke(app, ["faq", str(FIXTURES / "answer_questions.jsonl"), "-f", "json"])
    assert result.exit_code == 0, result.output
    faq = json.loads(result.stdout)
    assert len(faq["entries"]) == 3 and [n["question"] for n in faq["not_covered"]] == [
        "how long should I boil an egg so the yolk stays runny?"
    ]


def test_an_empty_question_list_is_one_clear_error(faq_home: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text("# only a comment\n\n")
    result = runner.invoke(app, ["faq", str(empty)])
    assert result.exit_code == 2 and "holds no questions" in result.output
    missing = runner.invoke(app, ["faq", str(empty), "-o", str(tmp_path / "no" / "faq.md")])
    assert missing.exit_code == 2 and "does not exist" in " ".join(missing.output.split())


# --- resume after a kill -------------------------------------------------------------------

SLOW_QUESTIONS = [
    "I blew up an old photo 10x and it stayed crisp - how?",
    EGG,
    "How do I get rid of JPEG blocks when I enlarge a picture?",
    "Can I fix a blurry face in an old family photo?",
    "Why does my enlarged photo look like a painting?",
    "How do I enlarge an anime drawing or a cartoon?",
]
RELEVANT = len(SLOW_QUESTIONS) - 1


@pytest.fixture
def slow_model() -> Iterator[ScriptedServer]:
    """A chat server that takes 0.3 s a reply (its off-format reply falls back to extractive)."""
    server = ScriptedServer()
    server.replies = [Reply(chunks=["Sorry, no idea."], delay_s=0.3) for _ in range(4 * RELEVANT)]
    yield server
    server.close()


def _faq_arguments(questions: Path, output: Path) -> list[str]:
    return ["faq", str(questions), "-o", str(output), "--writer", "openai"]


def _use_home(monkeypatch: pytest.MonkeyPatch, home: Path, server: ScriptedServer) -> None:
    for name, value in {
        "ZOOMQA_HOME": str(home),
        "OPENAI_BASE_URL": server.base_url,
        "OPENAI_API_KEY": "sk-faq-test",
        "ZOOMQA_ANSWER__MAX_RETRIES": "0",
    }.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()


def _cached(home: Path) -> dict[Path, int]:
    return {path: path.stat().st_mtime_ns for path in (home / "faq-cache").glob("*.json")}


def test_a_killed_run_resumes_without_redoing_finished_entries(
    bundled_home: Path, slow_model: ScriptedServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    questions = tmp_path / "questions.txt"
    questions.write_text("\n".join(SLOW_QUESTIONS) + "\n")
    home = _home_with_index(bundled_home, tmp_path / "home")
    output = tmp_path / "faq.md"
    _use_home(monkeypatch, home, slow_model)

    command = [sys.executable, "-m", "zoomqa.cli", *_faq_arguments(questions, output)]
    killed = subprocess.Popen(command, env={**os.environ, "OMP_NUM_THREADS": "1"}, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    while not output.exists() and killed.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    killed.send_signal(signal.SIGKILL)
    assert killed.wait(30) == -signal.SIGKILL, "the run ended before it could be killed mid-way"
    partial = output.read_text()  # the checkpoint after WRITE_EVERY entries: a whole document
    assert partial.startswith("# Frequently asked questions") and partial.endswith("\n")
    before = _cached(home)
    assert WRITE_EVERY <= len(before) < len(SLOW_QUESTIONS)
    relevant_before = sum(json.loads(p.read_text())["answer"]["relevant"] for p in before)
    requests_before = len(slow_model.requests)

    resumed = runner.invoke(app, _faq_arguments(questions, output))  # the rerun, in-process
    assert resumed.exit_code == 0, resumed.output
    assert (
        f"{len(before)} answers from the cache, {len(SLOW_QUESTIONS) - len(before)} newly written"
        in " ".join(resumed.stderr.split())
    )
    asked_again = [body for _, body in slow_model.requests[requests_before:]]
    assert len(asked_again) >= RELEVANT - relevant_before  # the model wrote each unfinished answer...
    for path in before:  # ...and was never asked about a finished one
        question = json.loads(path.read_text())["question"]
        assert not any(question in json.dumps(body, ensure_ascii=False) for body in asked_again), question
    after = _cached(home)
    assert len(after) == len(SLOW_QUESTIONS)
    assert all(after[path] == mtime for path, mtime in before.items())  # finished entries untouched

    # an uninterrupted run, with a cache of its own, writes the same file
    fresh_output = tmp_path / "fresh.md"
    _use_home(monkeypatch, _home_with_index(bundled_home, tmp_path / "fresh"), slow_model)
    fresh = runner.invoke(app, _faq_arguments(questions, fresh_output))
    assert fresh.exit_code == 0, fresh.output
    assert output.read_text() == fresh_output.read_text()
    assert (
        output.read_text().count("written by extractive (the openai writer's answer was rejected") == RELEVANT
    )


# --- the page in a browser -----------------------------------------------------------------


@pytest.mark.skipif(
    not CHROMIUM.exists(), reason=f"Debian's chromium is not installed at {CHROMIUM} (.ci/run installs it)"
)
def test_the_html_page_works_offline_at_phone_width_in_chromium(
    faq_home: Path, question_file: Path, tmp_path: Path
) -> None:
    from playwright.sync_api import Route, sync_playwright

    html = tmp_path / "faq.html"
    result = runner.invoke(app, ["faq", str(question_file), "-o", str(html)])
    assert result.exit_code == 0, result.output
    page_url = html.as_uri()
    requested: list[str] = []

    def only_the_page(route: Route) -> None:
        requested.append(route.request.url)
        if route.request.url == page_url:
            route.continue_()
        else:
            route.abort()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"),  # a fresh profile
            executable_path=str(CHROMIUM),
            headless=True,
            args=[
                "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run",
            ],
            viewport={"width": 390, "height": 844},
        )  # fmt: skip
        try:
            browser.route("**/*", only_the_page)
            page = browser.new_page()
            page.goto(page_url)
            page.screenshot(path=str(tmp_path / "faq.png"), full_page=True)
            assert page.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scrolling
            links = page.eval_on_selector_all("nav a", "links => links.map(a => a.getAttribute('href'))")
            assert len(links) == 5
            for href in links:
                target = href.removeprefix("#")
                assert page.evaluate("id => document.getElementById(id) !== null", target), href
                page.click(f'nav a[href="{href}"]')
                assert page.evaluate("location.hash") == href
                top, height, scrolled = page.evaluate(
                    "id => [document.getElementById(id).getBoundingClientRect().top, innerHeight, scrollY]",
                    target,
                )
                assert scrolled > 0 and -1 <= top < height / 2, (href, top)  # jumped to: near the top
                page.evaluate("window.scrollTo(0, 0)")
            cite = page.locator("a.cite").first
            cite.click()
            assert page.evaluate("location.hash").endswith("-source-1")
        finally:
            browser.close()
    assert requested == [page_url]
    shot = (tmp_path / "faq.png").read_bytes()
    assert shot.startswith(b"\x89PNG") and len(shot) > 20_000
