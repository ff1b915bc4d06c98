"""Index benchmark: build speed, re-add cost, query latency and size, beside LangChain's FAISS store.

Prints one table; it is not a test. A full run embeds the 68k arXiv corpus three times (our
build, raw SentenceTransformer.encode, LangChain) and takes tens of minutes on 2 cores:

    .venv/bin/python bench/bench_index.py                  # everything, full corpus
    .venv/bin/python bench/bench_index.py --limit 2000     # a quick run on 2,000 arXiv records
    .venv/bin/python bench/bench_index.py --random-vectors # latency/size at full scale, no embedding

``--random-vectors`` stores random unit vectors instead of embeddings (queries are still
embedded for real), so latency and size are those of a full index while the ranking is
meaningless; build and throughput rows are then skipped.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from zoomqa.config import get_settings
from zoomqa.index.embedding import Embedder, load_embedder, resolve_embedder
from zoomqa.index.metadata import Entry
from zoomqa.index.records import Record, read_bundled_corpus, read_records
from zoomqa.index.retrieval import HybridRetriever
from zoomqa.index.store import BUNDLED_SOURCE, IndexStore
from zoomqa.question_set import read_question_set

REPO = Path(__file__).resolve().parents[1]
ARXIV_CORPUS = Path("corpus/arxiv_cv.jsonl.gz")
QUESTIONS = REPO / "tests" / "questions.jsonl"


@dataclass
class Row:
    name: str
    value: str
    target: str = ""


def timed(action: Callable[[], object]) -> tuple[object, float]:
    start = time.perf_counter()
    result = action()
    return result, time.perf_counter() - start


def directory_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


class RandomVectors:
    """Stands in for the sentence model when only latency and size are measured."""

    def __init__(self, dim: int) -> None:
        self.rng = np.random.default_rng(0)
        self.dim = dim

    def encode(self, texts: list[str], **_: object) -> np.ndarray:
        vectors = self.rng.standard_normal((len(texts), self.dim)).astype(np.float32)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def shared_dir(option: Path | None) -> Path:
    path = option or get_settings().shared or REPO.parent / "shared"
    if not (path / ARXIV_CORPUS).is_file():
        sys.exit(f"no arXiv corpus at {path / ARXIV_CORPUS}; pass --shared PATH")
    return path


def arxiv_entries(shared: Path, limit: int | None) -> tuple[list[Entry], float]:
    records, seconds = timed(lambda: read_records(shared / ARXIV_CORPUS))
    chosen: list[Record] = records[:limit] if limit else records  # type: ignore[index]
    return [Entry.of(r, ARXIV_CORPUS.name) for r in chosen], seconds


def build(index_dir: Path, entries: list[Entry], embedder: Embedder, batch_size: int) -> float:
    def progress(done: int, total: int) -> None:
        print(f"\r  embedded {done}/{total}", end="", file=sys.stderr, flush=True)

    _, seconds = timed(
        lambda: IndexStore(index_dir, batch_size=batch_size, progress=progress).upsert(entries, embedder)
    )
    print(file=sys.stderr)
    return seconds


def query_latency(
    index_dir: Path, questions: list[str], rounds: int, min_relevance: float | None
) -> tuple[float, float]:
    with HybridRetriever.open(index_dir, min_relevance=min_relevance) as retriever:
        for question in questions[:5]:
            retriever.search(question)  # warm caches
        times = []
        for i in range(rounds):
            _, seconds = timed(lambda q=questions[i % len(questions)]: retriever.search(q))
            times.append(seconds * 1000)
    return statistics.median(times), float(np.percentile(times, 95))


def langchain_build(
    texts: list[str], batch_size: int, questions: list[str], rounds: int
) -> tuple[float, float, int]:
    """The same texts through LangChain's FAISS store and HuggingFaceEmbeddings, as a user would."""
    import faiss
    from langchain_community.embeddings import HuggingFaceEmbeddings
    from langchain_community.vectorstores import FAISS

    model_dir, _ = resolve_embedder("all-MiniLM-L6-v2")
    embeddings = HuggingFaceEmbeddings(
        model_name=str(model_dir), encode_kwargs={"normalize_embeddings": True, "batch_size": batch_size}
    )
    store, seconds = timed(lambda: FAISS.from_texts(texts, embeddings))
    for question in questions[:5]:
        store.similarity_search(question, k=10)
    times = []
    for i in range(rounds):
        _, elapsed = timed(lambda q=questions[i % len(questions)]: store.similarity_search(q, k=10))
        times.append(elapsed * 1000)
    size = len(faiss.serialize_index(store.index))  # the docstore is a pickle: not counted, not written
    return seconds, statistics.median(times), size


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--limit", type=int, help="use only the first N arXiv records")
    parser.add_argument(
        "--shared", type=Path, help="the shared data folder (default: settings.shared or ../shared)"
    )
    parser.add_argument("--queries", type=int, default=200, help="timed queries per latency measurement")
    parser.add_argument("--random-vectors", action="store_true", help="latency and size only, no embedding")
    parser.add_argument("--skip-langchain", action="store_true", help="leave out the LangChain comparison")
    args = parser.parse_args()

    settings = get_settings()
    batch_size = settings.index.batch_size
    if settings.threads:
        import torch

        torch.set_num_threads(settings.threads)
    shared = shared_dir(args.shared)
    rows: list[Row] = []
    questions = [q.question for q in read_question_set(QUESTIONS)]

    embedder, load_s = timed(load_embedder)
    rows.append(Row("embedder load", f"{load_s:.1f} s"))
    bundled = [Entry.of(r, BUNDLED_SOURCE) for r in read_bundled_corpus()]
    extra, parse_s = arxiv_entries(shared, args.limit)
    entries = bundled + extra
    rows.append(Row("read + hash arXiv JSONL.gz", f"{parse_s:.1f} s for {len(extra):,} records"))
    if args.random_vectors:
        embedder = Embedder(identity=embedder.identity, dim=embedder.dim, _model=RandomVectors(embedder.dim))

    work = Path(tempfile.mkdtemp(prefix="zoomqa-bench-"))
    try:
        if not args.random_vectors:
            small_s = build(work / "bundled", bundled, embedder, batch_size)
            rows.append(
                Row(
                    f"build bundled ({len(bundled)} records)",
                    f"{small_s:.1f} s, {len(bundled) / small_s:.0f} rec/s",
                )
            )
        big_dir = work / "big"
        big_s = build(big_dir, entries, embedder, batch_size)
        rows.append(
            Row(
                f"build bundled + arXiv ({len(entries):,} records)",
                f"{big_s:.1f} s, {len(entries) / big_s:.0f} rec/s",
            )
        )

        def readd() -> object:
            again = arxiv_entries(shared, args.limit)[0]
            return IndexStore(big_dir).upsert(bundled + again, embedder)

        report, readd_s = timed(readd)
        assert not report.changed  # type: ignore[attr-defined]
        rows.append(
            Row(
                "re-add unchanged (read + hash + compare)",
                f"{readd_s:.1f} s = {readd_s / (parse_s + big_s):.1%} of first add",
                "<= 5%",
            )
        )
        rows.append(Row("index size on disk", f"{directory_size(big_dir) / 2**20:.1f} MiB"))
        # random vectors would send every question down the short "nothing relevant" path
        p50, p95 = query_latency(big_dir, questions, args.queries, -1.0 if args.random_vectors else None)
        rows.append(
            Row(f"query latency at {len(entries):,} (p50 / p95)", f"{p50:.1f} / {p95:.1f} ms", "p50 <= 25 ms")
        )

        if not args.random_vectors:
            texts = [e.record.embedding_text() for e in entries]
            from sentence_transformers import SentenceTransformer

            model = SentenceTransformer(str(resolve_embedder(settings.index.embedder)[0]), device="cpu")
            _, raw_s = timed(lambda: model.encode(texts, batch_size=batch_size, normalize_embeddings=True))
            rows.append(
                Row(
                    "raw SentenceTransformer.encode, same texts",
                    f"{raw_s:.1f} s, {len(texts) / raw_s:.0f} rec/s",
                )
            )
            rows.append(Row("our build rate / raw encode rate", f"{raw_s / big_s:.2f}", ">= 0.9"))
            if not args.skip_langchain:
                lc_s, lc_p50, lc_size = langchain_build(texts, batch_size, questions, args.queries)
                rows.append(
                    Row(
                        "LangChain FAISS.from_texts, same texts",
                        f"{lc_s:.1f} s, {len(texts) / lc_s:.0f} rec/s",
                    )
                )
                rows.append(Row("LangChain similarity_search p50 (dense only)", f"{lc_p50:.1f} ms"))
                rows.append(Row("LangChain FAISS index bytes (no docstore)", f"{lc_size / 2**20:.1f} MiB"))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    width = max(len(r.name) for r in rows)
    print(f"\n{'measure':<{width}}  value  (target)")
    for row in rows:
        print(f"{row.name:<{width}}  {row.value}" + (f"  (target {row.target})" if row.target else ""))


if __name__ == "__main__":
    main()
