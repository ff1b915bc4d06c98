"""Files written for a person: whole or not at all, never replacing what must stay, umask honoured."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from zoomqa.files import write_text_atomic


def test_a_file_is_replaced_in_one_step_and_no_temporary_file_is_left(tmp_path: Path) -> None:
    target = tmp_path / "faq.md"
    target.write_text("old", encoding="utf-8")
    write_text_atomic(target, "new")
    assert target.read_text(encoding="utf-8") == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["faq.md"]


def test_an_existing_file_is_never_replaced_when_asked_not_to(tmp_path: Path) -> None:
    target = tmp_path / "chat.md"
    target.write_text("keep me", encoding="utf-8")
    with pytest.raises(FileExistsError):
        write_text_atomic(target, "other", replace=False)
    assert target.read_text(encoding="utf-8") == "keep me"
    assert [p.name for p in tmp_path.iterdir()] == ["chat.md"]


@pytest.mark.parametrize(("umask", "mode"), [(0o002, 0o664), (0o022, 0o644), (0o077, 0o600)])
def test_the_mode_is_what_the_umask_gives_not_mkstemps_0600(tmp_path: Path, umask: int, mode: int) -> None:
    target = tmp_path / "page.html"
    code = f"from pathlib import Path; from zoomqa.files import write_text_atomic; write_text_atomic(Path({str(target)!r}), 'x')"
    subprocess.run([sys.executable, "-c", code], check=True, preexec_fn=lambda: os.umask(umask))
    assert target.stat().st_mode & 0o777 == mode
