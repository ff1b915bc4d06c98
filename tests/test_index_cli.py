"""`zoomqa index ...` end to end: build, add, remove, arxiv (against a local Atom server), stats, bad input."""

from __future__ import annotations

import gzip
import json
import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from typer.testing import CliRunner, Result

from zoomqa.cli import app
from zoomqa.config import get_settings
from zoomqa.index.records import read_bundled_corpus
from zoomqa.index.snapshot import VECTORS, open_snapshot

runner = CliRunner()
ATOM = Path(__file__).parent / "fixtures" / "atom"
CARD = {
    "id": "paper:my-notes",
    "kind": "paper",
    "title": "My notes on lanczos resampling",
    "authors": ["Me"],
    "year": 2024,
    "summary": "Lanczos resampling enlarges images with a windowed sinc kernel.",
}
ARXIV_LINE = {
    "arxiv_id": "1609.05158",
    "title": "Real-Time Single Image and Video Super-Resolution Using an Efficient Sub-Pixel CNN",
    "authors": ["Wenzhe Shi"],
    "abstract": "A sub-pixel convolution layer learns an array of upscaling filters.",
    "date": "2016-09-16",
    "github": [],
}


def flat(text: str) -> str:
    return " ".join(text.split())


def zoomqa(*args: str) -> Result:
    return runner.invoke(app, list(args))


def write_jsonl(path: Path, rows: list[object]) -> Path:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wt", encoding="utf-8") as handle:  # type: ignore[operator]
        handle.write("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


@pytest.fixture(scope="module")
def built_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled corpus built once through the CLI; tests work on copies."""
    home = tmp_path_factory.mktemp("built")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ZOOMQA_HOME", str(home))
        get_settings.cache_clear()
        result = zoomqa("index", "build")
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert f"{len(read_bundled_corpus())} added" in flat(result.stdout)
    return home / "index"


@pytest.fixture
def home(built_index: Path, isolated_home: Path) -> Path:
    """A zoomqa home (already isolated by conftest) holding a copy of the bundled index."""
    shutil.copytree(built_index, isolated_home / "index")
    return isolated_home


def digest(home: Path) -> str:
    snapshot = open_snapshot(home / "index", with_keywords=False)
    snapshot.records.close()
    return snapshot.manifest.digest


def test_build_twice_changes_nothing_and_if_missing_does_nothing(home: Path) -> None:
    before = digest(home)
    again = zoomqa("index", "build")
    assert again.exit_code == 0 and "nothing changed" in flat(again.stdout)
    missing = zoomqa("index", "build", "--if-missing")
    assert missing.exit_code == 0 and "nothing to do" in flat(missing.stdout)
    assert digest(home) == before
    both = zoomqa("index", "build", "--if-missing", "--rebuild")
    assert both.exit_code == 2 and "contradict" in both.stderr


def test_add_our_schema_and_arxiv_metadata_then_remove(home: Path, tmp_path: Path) -> None:
    ours = zoomqa("index", "add", str(write_jsonl(tmp_path / "notes.jsonl", [CARD])))
    assert ours.exit_code == 0 and "1 added" in flat(ours.stdout)
    theirs = zoomqa("index", "add", str(write_jsonl(tmp_path / "arxiv.jsonl.gz", [ARXIV_LINE])))
    assert theirs.exit_code == 0 and "1 added" in flat(theirs.stdout)

    stats = json.loads(zoomqa("index", "stats", "--json").stdout)
    assert stats["sources"]["notes.jsonl"] == 1 and stats["sources"]["arxiv.jsonl.gz"] == 1
    assert stats["records"] == len(read_bundled_corpus()) + 2 and stats["size_bytes"] > 0
    assert stats["embedder"].startswith("all-MiniLM-L6-v2@") and stats["by_kind"]["model"] > 0

    found = json.loads(zoomqa("search", "windowed sinc kernel lanczos resampling", "--json").stdout)
    assert "paper:my-notes" in [p["id"] for p in found["papers"]]

    removed = zoomqa("index", "remove", "paper:my-notes", "arxiv:1609.05158")
    assert removed.exit_code == 0 and "2 removed" in flat(removed.stdout)
    unknown = zoomqa("index", "remove", "paper:nope")
    assert unknown.exit_code == 2 and "not in the index: paper:nope" in flat(unknown.stderr)


def test_a_malformed_file_imports_nothing_and_names_its_lines(home: Path, tmp_path: Path) -> None:
    before = digest(home)
    bad = write_jsonl(tmp_path / "bad.jsonl", [CARD, "{oops", {**CARD, "id": "paper:x", "year": "soon"}])
    result = zoomqa("index", "add", str(bad))
    assert result.exit_code == 2
    assert "bad.jsonl:2: invalid JSON" in flat(result.stderr) and "bad.jsonl:3: year" in flat(result.stderr)
    assert "nothing was imported" in flat(result.stderr)
    assert digest(home) == before


@pytest.mark.parametrize("kind", ["directory", "missing", "broken-gzip"])
def test_an_unreadable_file_fails_cleanly(home: Path, tmp_path: Path, kind: str) -> None:
    path = {
        "directory": tmp_path,
        "missing": tmp_path / "nope.jsonl",
        "broken-gzip": tmp_path / "x.jsonl.gz",
    }[kind]
    if kind == "broken-gzip":
        path.write_bytes(b"\x1f\x8b not really gzip")
    before = digest(home)
    result = zoomqa("index", "add", str(path))
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "no such file" in flat(result.stderr) or "cannot read" in flat(result.stderr)
    assert digest(home) == before


def test_after_a_failed_add_the_previous_index_still_answers(home: Path, tmp_path: Path) -> None:
    zoomqa("index", "add", str(write_jsonl(tmp_path / "bad.jsonl", ["[1, 2]"])))
    result = zoomqa("search", "arbitrary-scale super-resolution with implicit functions", "--json")
    assert result.exit_code == 0 and json.loads(result.stdout)["relevant"]


def test_rebuild_repairs_a_truncated_index(home: Path, tmp_path: Path) -> None:
    vectors = next((home / "index").glob(f"gen-*/{VECTORS}"))
    vectors.write_bytes(vectors.read_bytes()[:500])
    broken = zoomqa("index", "stats")
    assert broken.exit_code == 2 and "--rebuild" in flat(broken.stderr)
    card = write_jsonl(tmp_path / "notes.jsonl", [CARD])
    assert zoomqa("index", "add", str(card)).exit_code == 2  # nothing is written on top of a damaged index
    repaired = zoomqa("index", "build", "--rebuild")
    assert repaired.exit_code == 0, repaired.output
    assert json.loads(zoomqa("index", "stats", "--json").stdout)["records"] == len(read_bundled_corpus())


class AtomServer(BaseHTTPRequestHandler):
    """Stands in for the arXiv API: answers every query with the fixture or status set by the test."""

    body: bytes = b""
    status: int = 200
    queries: list[dict[str, list[str]]] = []

    def do_GET(self) -> None:
        AtomServer.queries.append(parse_qs(urlparse(self.path).query))
        self.send_response(self.status)
        self.send_header("Content-Type", "application/atom+xml")
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def arxiv_api(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[AtomServer]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), AtomServer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    AtomServer.queries = []
    monkeypatch.setenv("ZOOMQA_INDEX__ARXIV_API_URL", f"http://127.0.0.1:{server.server_port}/api/query")
    monkeypatch.setenv("ZOOMQA_INDEX__ARXIV_DELAY_S", "0")
    get_settings.cache_clear()
    yield AtomServer
    server.shutdown()
    server.server_close()


def test_arxiv_ids_are_fetched_and_added(home: Path, arxiv_api: type[AtomServer]) -> None:
    arxiv_api.status, arxiv_api.body = 200, (ATOM / "two_papers.xml").read_bytes()
    result = zoomqa("index", "arxiv", "--id", "2012.09161", "--id", "arXiv:1707.02921v1")
    assert result.exit_code == 0, result.output
    assert "arXiv returned 2 paper(s)" in flat(result.stdout) and "2 added" in flat(result.stdout)
    assert arxiv_api.queries[0]["id_list"] == ["2012.09161,1707.02921"]
    found = json.loads(
        zoomqa("search", "continuous image representation local implicit image function", "--json").stdout
    )
    liif = [p for p in found["papers"] if p["links"]["arxiv"].endswith("2012.09161")]
    assert liif and liif[0]["id"] != "arxiv:2012.09161"  # the bundled card wins over the fetched duplicate
    stats = json.loads(zoomqa("index", "stats", "--json").stdout)
    assert stats["sources"]["arxiv-api"] == 2


def test_an_arxiv_query_with_no_results_adds_nothing(home: Path, arxiv_api: type[AtomServer]) -> None:
    arxiv_api.status, arxiv_api.body = 200, (ATOM / "empty.xml").read_bytes()
    result = zoomqa("index", "arxiv", "--query", "ti:nonexistent topic", "--max", "5")
    assert result.exit_code == 1 and "found no papers for 'ti:nonexistent topic'" in flat(result.stderr)
    assert arxiv_api.queries[0]["search_query"] == ["ti:nonexistent topic"]


def test_an_arxiv_server_error_is_reported_without_a_traceback(
    home: Path, arxiv_api: type[AtomServer]
) -> None:
    arxiv_api.status, arxiv_api.body = 503, b"busy"
    result = zoomqa("index", "arxiv", "--id", "2012.09161")
    assert result.exit_code == 2 and "answered HTTP 503" in flat(result.stderr)
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--id", "not-an-id"], "not an arXiv identifier"),
        ([], "give either --id"),
        (["--id", "2012.09161", "--query", "x"], "give either --id"),
        (["--query", "x", "--max", "0"], "--max must be between 1 and 1000"),
    ],
)
def test_bad_arxiv_arguments_fail_before_any_request(
    home: Path, arxiv_api: type[AtomServer], args: list[str], message: str
) -> None:
    result = zoomqa("index", "arxiv", *args)
    assert result.exit_code == 2 and message in flat(result.stderr)
    assert arxiv_api.queries == []


def test_an_unreachable_arxiv_api_is_reported(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), AtomServer)
    port = server.server_port
    server.server_close()  # nothing listens on that port any more
    monkeypatch.setenv("ZOOMQA_INDEX__ARXIV_API_URL", f"http://127.0.0.1:{port}/api/query")
    monkeypatch.setenv("ZOOMQA_INDEX__ARXIV_DELAY_S", "0")
    get_settings.cache_clear()
    result = zoomqa("index", "arxiv", "--id", "2012.09161")
    assert result.exit_code == 2 and "cannot reach the arXiv API" in flat(result.stderr)
