"""What this machine's processor runs natively, for the trainers that choose a precision by it."""

from __future__ import annotations


def cpu_has_native_bf16() -> bool:
    """AMX or AVX512-BF16: without them torch emulates bf16 and runs ~3x slower than float32."""
    import torch

    return bool(torch.cpu._is_amx_tile_supported() or torch.cpu._is_avx512_bf16_supported())
