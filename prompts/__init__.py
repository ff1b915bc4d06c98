"""Prompt templates as plain text files, loaded by name.

Every word zoomqa sends to a language model, and the fixed phrases it wraps around extracted
sentences, live in ``*.txt`` files beside this module so they can be read and changed without
touching code. A user folder (``AnswerSettings.prompts_dir``) may replace any of them by name.
Placeholders use :class:`string.Template` syntax (``$question``), so braces in a prompt are
plain text.
"""

from __future__ import annotations

import re
from pathlib import Path
from string import Template

from zoomqa.errors import ZoomqaError

BUNDLED_DIR = Path(__file__).resolve().parent
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


def prompt_path(name: str, prompts_dir: Path | None = None) -> Path:
    """The file that holds template ``name``: the user's copy if there is one, else the bundled one."""
    if not _NAME.match(name):
        raise ZoomqaError(f"invalid prompt name {name!r}: use lower-case letters, digits and '_'")
    if prompts_dir is not None:
        override = prompts_dir / f"{name}.txt"
        if override.is_file():
            return override
    bundled = BUNDLED_DIR / f"{name}.txt"
    if not bundled.is_file():
        raise ZoomqaError(f"no prompt template named {name!r} (looked for {name}.txt)")
    return bundled


def read_template(name: str, prompts_dir: Path | None = None) -> tuple[Path, str]:
    """The file of template ``name`` and its raw text, placeholders unfilled."""
    path = prompt_path(name, prompts_dir)
    try:
        return path, path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ZoomqaError(f"cannot read prompt template {path}: {exc}") from None


def load_prompt(name: str, prompts_dir: Path | None = None, **values: str) -> str:
    """Template ``name`` with ``values`` filled in; every placeholder must receive a value."""
    path, text = read_template(name, prompts_dir)
    try:
        return Template(text).substitute(values).strip()
    except KeyError as exc:
        raise ZoomqaError(
            f"prompt template {path} uses ${exc.args[0]}, which zoomqa does not provide; "
            f"available: {', '.join('$' + v for v in sorted(values)) or 'none'}"
        ) from None
    except ValueError as exc:
        raise ZoomqaError(f"prompt template {path} is malformed ({exc}); write a literal $ as $$") from None
