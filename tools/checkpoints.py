"""Reading and writing LIIF weights: the authors' ``.pth`` files and our compact safetensors.

A checkpoint always carries the spec of the network it belongs to, so loading rebuilds the
right model with no extra flags. Nothing here unpickles arbitrary objects: ``.pth`` files are
read with ``torch.load(weights_only=True)`` and ours are safetensors with the spec as JSON in
the header metadata.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from zoomqa.errors import ZoomqaError
from zoomqa.tools.liif_model import LIIF, LiifSpec

BUNDLED_WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
# Short names a user can pass instead of a path, and the spec each stands for. liif-edsr-real
# is liif-edsr trained further on JPEG-compressed, noisy and blurred inputs (tools/weights/*.md).
MODEL_NAMES = {"liif-edsr": "edsr-baseline", "liif-edsr-real": "edsr-baseline", "liif-rdn": "rdn"}
_SPEC_KEY = "liif_spec"
_UNUSED_KEYS = ("encoder.sub_mean.", "encoder.add_mean.")  # in the authors' files, never used


def _build(spec: LiifSpec, state: dict[str, torch.Tensor], source: Path) -> LIIF:
    model = LIIF(spec)
    state = {k: v.float() for k, v in state.items() if not k.startswith(_UNUSED_KEYS)}
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong_shape = sorted(k for k in set(state) & set(expected) if state[k].shape != expected[k].shape)
    if missing or unexpected or wrong_shape:
        details = []
        for label, keys in (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong_shape)):
            if keys:
                details.append(f"{label}: {', '.join(keys[:3])}{' ...' if len(keys) > 3 else ''}")
        raise ZoomqaError(f"{source} does not match a LIIF {spec.encoder} network ({'; '.join(details)})")
    model.load_state_dict(state)
    return model.eval()


def _load_official(path: Path) -> LIIF:
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for non-checkpoint files
        raise ZoomqaError(f"{path} is not a readable PyTorch checkpoint ({type(exc).__name__})") from None
    try:
        model_entry = checkpoint["model"]
        spec = LiifSpec.from_args(model_entry["args"])
        state = model_entry["sd"]
    except (KeyError, TypeError) as exc:
        raise ZoomqaError(
            f"{path} is not a LIIF checkpoint (expected {{'model': {{'args', 'sd'}}}}, missing {exc})"
        ) from None
    except ValueError as exc:
        raise ZoomqaError(f"{path}: {exc}") from None
    return _build(spec, state, path)


def _load_safetensors(path: Path) -> LIIF:
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
            state = {key: handle.get_tensor(key) for key in handle.keys()}
    except (SafetensorError, OSError, ValueError) as exc:
        raise ZoomqaError(f"{path} is not a readable safetensors file ({exc})") from None
    if _SPEC_KEY not in metadata:
        raise ZoomqaError(f"{path} has no '{_SPEC_KEY}' metadata: not a zoomqa LIIF checkpoint")
    try:
        spec = LiifSpec.from_args(json.loads(metadata[_SPEC_KEY]))
    except (ValueError, KeyError, TypeError) as exc:
        raise ZoomqaError(f"{path}: bad '{_SPEC_KEY}' metadata ({exc})") from None
    return _build(spec, state, path)


def load_checkpoint(path: Path) -> LIIF:
    """A float32 LIIF in eval mode from either checkpoint format."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise ZoomqaError(f"checkpoint not found: {path}")
    if path.suffix == ".safetensors":
        return _load_safetensors(path)
    return _load_official(path)


def resolve_model(name_or_path: str, search_dirs: tuple[Path, ...] = ()) -> Path:
    """The weights file for a model name ('liif-edsr', 'liif-edsr-real', 'liif-rdn') or a path.

    Names are looked up in ``search_dirs`` (e.g. the user's models folder) and then among the
    weights shipped with zoomqa.
    """
    if name_or_path in MODEL_NAMES:
        filename = f"{name_or_path}.safetensors"
        for directory in (*search_dirs, BUNDLED_WEIGHTS_DIR):
            candidate = Path(directory).expanduser() / filename
            if candidate.is_file():
                return candidate
        raise ZoomqaError(
            f"no weights installed for model '{name_or_path}': pass --model PATH to a LIIF checkpoint "
            f"(the authors' {MODEL_NAMES[name_or_path]}-liif.pth or one trained with `zoomqa train`), "
            f"or put {filename} in {search_dirs[0] if search_dirs else BUNDLED_WEIGHTS_DIR}"
        )
    path = Path(name_or_path).expanduser()
    if path.is_file():
        return path
    known = ", ".join(MODEL_NAMES)
    raise ZoomqaError(f"unknown model '{name_or_path}': use one of {known} or a path to a checkpoint file")


def save_safetensors(
    model: LIIF, path: Path, *, dtype: torch.dtype = torch.float16, metadata: dict[str, str] | None = None
) -> Path:
    """Write weights + spec atomically (a crash never leaves a half-written file at ``path``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().to("cpu", dtype).contiguous() for k, v in model.state_dict().items()}
    header = {**(metadata or {}), _SPEC_KEY: json.dumps(model.spec.to_args())}
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        save_file(tensors, tmp, metadata=header)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def read_metadata(path: Path) -> dict[str, str]:
    """The header metadata of one of our safetensors checkpoints (training info, spec)."""
    try:
        with safe_open(str(path), framework="pt") as handle:
            return dict(handle.metadata() or {})
    except (SafetensorError, OSError) as exc:
        raise ZoomqaError(f"{path} is not a readable safetensors file ({exc})") from None
