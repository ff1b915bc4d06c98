"""Start-up benchmark: whole-process wall time of the commands a person types first.

Prints one table; it is not a test. Each row is the median (and the fastest) of ``--runs``
fresh processes, timed from start to exit, so interpreter start-up, imports, index opening,
embedding and writing all count. The load average is printed before and after: on a busy
machine every row is slower, so compare rows of one run rather than runs of different days.

    .venv/bin/python bench/bench_startup.py                    # a throwaway home with the bundled index
    .venv/bin/python bench/bench_startup.py --home ~/.local/share/zoomqa --runs 9

``zoomqa ask`` is timed with a warm vector cache (one untimed run first), as after the first
question of an installation. The last row runs the same command with the embedder on
sentence-transformers, as it was before :mod:`zoomqa.index.minilm` computed its vectors with
numpy (the benchmark refuses the numpy encoder inside that process, so the embedder falls
back to sentence-transformers, as it does for a model folder numpy cannot run).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

QUESTION = "what is LIIF?"
HEAVY = ("torch", "sentence_transformers", "transformers", "sklearn")


def _zoomqa() -> list[str]:
    script = Path(sys.executable).with_name("zoomqa")
    return [str(script)] if script.exists() else [sys.executable, "-m", "zoomqa.cli"]


def _timed(command: list[str], env: dict[str, str], runs: int) -> tuple[float, float, int]:
    """Median and fastest wall seconds of ``runs`` processes, and the last exit status."""
    seconds = []
    status = 0
    for _ in range(runs):
        started = time.perf_counter()
        status = subprocess.run(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        ).returncode
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds), min(seconds), status


def _on_sentence_transformers(arguments: list[str]) -> list[str]:
    """A ``zoomqa`` command line run with the embedder on sentence-transformers."""
    code = (
        "import sys\n"
        "import zoomqa.index.embedding as embedding\n"
        "class Refused(embedding.MiniLMEncoder):\n"
        "    def __init__(self, directory):\n"
        "        raise embedding.UnsupportedModel('the benchmark asks for sentence-transformers')\n"
        "embedding.MiniLMEncoder = Refused\n"
        "from zoomqa.cli import main\n"
        f"sys.argv = ['zoomqa', *{arguments!r}]\n"
        "main()\n"
    )
    return [sys.executable, "-c", code]


def _heavy_modules_of_ask(env: dict[str, str]) -> str:
    """The heavy libraries a ``zoomqa ask`` process has imported when it exits."""
    code = (
        "import atexit, sys\n"
        "atexit.register(lambda: sys.__stderr__.write('loaded: ' + ','.join(m for m in "
        f"{HEAVY!r} if m in sys.modules) + '\\n'))\n"
        "from zoomqa.cli import main\n"
        f"sys.argv = ['zoomqa', 'ask', {QUESTION!r}]\n"
        "main()\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    lines = [line for line in completed.stderr.splitlines() if line.startswith("loaded: ")]
    return (lines[-1].removeprefix("loaded: ") or "none") if lines else "?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="Processes per row (the median is shown).")
    parser.add_argument("--home", type=Path, help="A zoomqa home with an index (default: a throwaway one).")
    args = parser.parse_args()

    scratch = None if args.home else Path(tempfile.mkdtemp(prefix="zoomqa-bench-startup-"))
    home = args.home or scratch
    assert home is not None
    env = {**os.environ, "ZOOMQA_HOME": str(home), "COLUMNS": "100"}
    zoomqa = _zoomqa()
    try:
        if not (home / "index").exists():
            print(f"building the bundled index in {home} (not timed)...", flush=True)
            subprocess.run([*zoomqa, "index", "build"], env=env, check=True, stdout=subprocess.DEVNULL)
        # one answer first, so the card sentences' vectors are in the vector cache
        subprocess.run([*zoomqa, "ask", QUESTION], env=env, check=True, stdout=subprocess.DEVNULL)

        cores = os.cpu_count()
        before = os.getloadavg()
        rows = [
            ("python -c pass (the interpreter alone)", [sys.executable, "-c", "pass"]),
            ("zoomqa --help", [*zoomqa, "--help"]),
            ('zoomqa ask "" (refused)', [*zoomqa, "ask", ""]),
            (f'zoomqa ask "{QUESTION}" (warm vector cache)', [*zoomqa, "ask", QUESTION]),
            (
                f'zoomqa ask "{QUESTION}" on sentence-transformers',
                _on_sentence_transformers(["ask", QUESTION]),
            ),
        ]
        print(f"{cores} cores, load average {before[0]:.2f} {before[1]:.2f} {before[2]:.2f} (1, 5, 15 min)")
        print(f"{'command':58s} {'median':>8s} {'fastest':>8s}  exit")
        for label, command in rows:
            median, fastest, status = _timed(command, env, args.runs)
            print(f"{label:58s} {median:7.2f}s {fastest:7.2f}s  {status}", flush=True)
        print(f"heavy libraries imported by zoomqa ask: {_heavy_modules_of_ask(env)}")
        after = os.getloadavg()
        print(f"load average after: {after[0]:.2f} {after[1]:.2f} {after[2]:.2f}")
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
