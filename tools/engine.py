"""LIIF inference for images of any size, at any scale, in bounded memory.

The work is split two ways so memory stays bounded whatever the output size:

* the input (latent grid) is cut into square tiles; the encoder runs on each tile plus a halo
  as wide as its receptive field, so every latent vector a tile's queries read is computed
  exactly as it would be on the whole image;
* each tile's output pixels are rendered in small chunks sized to stay in the CPU cache, and
  written straight into the final uint8 (or uint16/float32) array.

Within a chunk the query grid is separable: an output row fixes the latent row, the relative
y coordinate and its share of the first decoder layer; an output column fixes the rest. The
first layer is therefore a gather from the latent table (:meth:`LIIF.latent_table`) plus a
row term and a column term, and the ensemble weights are products of row and column areas.

``exact`` computes in float32 and reproduces the reference outputs; ``fast`` runs the encoder
and the decoder MLP in bfloat16 on a CPU with native bf16 (AMX, AVX512-BF16; float32 on
others) or half precision on CUDA, while coordinates, ensemble weights and the final weighted
sum stay float32.

A model whose spec has an image skip adds the input's bilinear or bicubic interpolation, in
float32, computed separably for each rendered block (along x, then y) from per-axis taps.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from zoomqa.errors import ZoomqaError
from zoomqa.hardware import cpu_has_native_bf16
from zoomqa.tools.liif_model import EPS_SHIFT, LIIF, Skip, nearest_index, pixel_centers, skip_taps

Precision = Literal["fast", "exact"]
Progress = Callable[[int, int], None]

# Output pixels rendered at once: 4 ensemble members x 2048 queries x 256 bf16 values stay
# within a core's 2 MiB L2 cache; larger chunks measured slower on CPU.
_CPU_CHUNK_QUERIES = 2048
_CUDA_CHUNK_QUERIES = 1 << 18
# Live activations per input pixel during one encoder pass (measured peak RSS growth divided
# by pixels and bytes per value), used to size encoder tiles.
_ENCODER_VALUES_PER_PIXEL = {"edsr-baseline": 4 * 64, "rdn": 24 * 64}
_ENCODER_BUDGET_BYTES = 384 * 2**20


def resolve_device(name: str) -> torch.device:
    """'auto' picks CUDA when a GPU is usable, else the CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ZoomqaError("--device cuda was asked for but no CUDA GPU is available; use --device cpu")
    if name not in ("cpu", "cuda"):
        raise ZoomqaError(f"unknown device '{name}': use auto, cpu or cuda")
    return torch.device(name)


def compute_dtype(precision: Precision, device: torch.device) -> torch.dtype:
    """The network's dtype: ``fast`` takes the quickest one the hardware runs natively."""
    if precision == "exact":
        return torch.float32
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.bfloat16 if cpu_has_native_bf16() else torch.float32


def receptive_radius(encoder: nn.Module) -> int:
    """Pixels an encoder output can see on each side: the sum over all its convolutions.

    Summing is exact for a chain of convolutions and an upper bound when branches run in
    parallel, so a halo this wide always reproduces the untiled features.
    """
    return sum(m.dilation[0] * (m.kernel_size[0] // 2) for m in encoder.modules() if isinstance(m, nn.Conv2d))


def default_tile(model: LIIF, dtype: torch.dtype, height: int, width: int) -> int:
    """Input pixels per side the encoder sees at once (halo excluded), within a memory budget."""
    value_bytes = dtype.itemsize
    per_pixel = (
        _ENCODER_VALUES_PER_PIXEL[model.spec.encoder] + 2 * model.imnet.first.out_features
    ) * value_bytes
    if height * width * per_pixel <= _ENCODER_BUDGET_BYTES:
        return max(height, width)
    halo = receptive_radius(model.encoder) + 1
    # A tile narrower than its halo would recompute each latent vector more than 9 times.
    return max(math.isqrt(_ENCODER_BUDGET_BYTES // per_pixel) - 2 * halo, halo)


def _cpu_linear(x: Tensor, weight: Tensor, bias: Tensor, post_op: str) -> Tensor:
    # oneDNN's linear with an optional fused ReLU (what torch.compile emits on CPU): one pass
    # over the activations instead of two, bit-identical to F.linear + relu, and faster than
    # F.linear even without the ReLU.
    return torch.ops.mkldnn._linear_pointwise(x, weight, bias, post_op, [], "")


def _generic_linear(x: Tensor, weight: Tensor, bias: Tensor, post_op: str) -> Tensor:
    y = F.linear(x, weight, bias)
    return y.relu_() if post_op == "relu" else y


class QueryAxis:
    """Per output row (or column): latent index and relative coordinate of both ensemble shifts.

    The arithmetic is the reference's, element for element, in float32.
    """

    def __init__(self, n_out: int, n_latent: int, skip: Skip | None = None) -> None:
        query = pixel_centers(n_out)
        centres = pixel_centers(n_latent)
        index, rel = [], []
        for shift in (-1, 1):
            moved = (query + query.new_tensor(shift / n_latent + EPS_SHIFT)).clamp_(-1 + 1e-6, 1 - 1e-6)
            nearest = nearest_index(moved, n_latent)
            index.append(nearest)
            rel.append((query - centres[nearest]) * query.new_tensor(float(n_latent)))
        self.index = torch.stack(index)  # (2, n_out)
        self.rel = torch.stack(rel)  # (2, n_out) float32
        # The latent cell each output pixel centre falls in (exact integer arithmetic).
        self.owner = ((2 * np.arange(n_out, dtype=np.int64) + 1) * n_latent) // (2 * n_out)
        self.n_latent = n_latent
        # Input pixels and weights of the image skip, (n_out, taps) each.
        self.skip = skip_taps(query, n_latent, skip) if skip else None

    def tiles(self, tile: int) -> list[tuple[int, int]]:
        """Output ranges whose pixels fall in each of equal latent tiles of at most ``tile``."""
        count = -(-self.n_latent // tile)
        bounds = [round(i * self.n_latent / count) for i in range(count + 1)]
        starts = np.searchsorted(self.owner, bounds)
        return [(int(a), int(b)) for a, b in zip(starts[:-1], starts[1:], strict=True) if b > a]

    def needed(self, start: int, stop: int) -> tuple[int, int]:
        """Latent range the queries of output range [start, stop) read."""
        used = self.index[:, start:stop]
        return int(used.min()), int(used.max()) + 1


class _PreparedLiif:
    """A LIIF's weights cast and laid out once for one device and precision."""

    def __init__(self, model: LIIF, precision: Precision, device: torch.device) -> None:
        self.device = device
        self.dtype = compute_dtype(precision, device)
        # bf16 convolutions on CPU run several times faster channels-last; float32 ones gain
        # little, so exact mode uses the caller's encoder as it is when it already fits.
        fast_cpu = device.type == "cpu" and self.dtype != torch.float32
        self.memory_format = torch.channels_last if fast_cpu else torch.contiguous_format
        weight = next(model.encoder.parameters())
        if weight.device == device and weight.dtype == self.dtype and not fast_cpu:
            self.encoder = model.encoder
        else:  # a copy: the caller's model (maybe mid-training) is never modified
            self.encoder = copy.deepcopy(model.encoder).requires_grad_(False)
            self.encoder.to(device=device, dtype=self.dtype, memory_format=self.memory_format)
        self.radius = receptive_radius(model.encoder)
        linears = [m for m in model.imnet.layers if isinstance(m, nn.Linear)]
        first, feat_dim = linears[0], model.feat_dim

        def cast(t: Tensor, dtype: torch.dtype = self.dtype) -> Tensor:
            return t.detach().to(device=device, dtype=dtype).contiguous()

        self.table_kernel = cast(first.weight[:, : feat_dim * 9].reshape(-1, feat_dim, 3, 3))
        self.table_bias = cast(first.bias)
        self.coord_weight = cast(first.weight[:, feat_dim * 9 :], torch.float32)  # (hidden, 4)
        self.hidden = [(cast(m.weight), cast(m.bias)) for m in linears[1:-1]]
        self.last = (cast(linears[-1].weight), cast(linears[-1].bias))
        use_onednn = device.type == "cpu" and torch.backends.mkldnn.is_available()
        self.linear = _cpu_linear if use_onednn else _generic_linear
        self.chunk = _CPU_CHUNK_QUERIES if device.type == "cpu" else _CUDA_CHUNK_QUERIES

    def table(self, image: Tensor) -> Tensor:
        """(h, w, hidden) first-layer latent table of a normalised (1, 3, h, w) float32 image."""
        x = image.to(self.device, self.dtype).contiguous(memory_format=self.memory_format)
        feat = self.encoder(x)
        table = F.conv2d(feat, self.table_kernel, self.table_bias, padding=1)
        return table[0].permute(1, 2, 0).contiguous()

    def relu_(self, x: Tensor) -> Tensor:
        if x.dtype in (torch.bfloat16, torch.float16) and x.device.type == "cpu":
            # A half-precision value is negative exactly when its int16 bit pattern is, and
            # torch's CPU relu on bf16 is several times slower than this integer clamp.
            x.view(torch.int16).clamp_min_(0)
            return x
        return x.relu_()

    def decode(self, first_layer: Tensor) -> Tensor:
        """The MLP after its first layer's sum: (M, hidden) -> (M, 3) float32."""
        z = self.relu_(first_layer)
        for weight, bias in self.hidden:
            z = self.linear(z, weight, bias, "relu")
        return self.linear(z, *self.last, "none").float()


class _Tile:
    """One encoder tile's output block, rendered in cache-sized chunks.

    The first decoder layer of a query is the sum of three rows of one matrix: the latent
    table entry it reads, its output row's term and its output column's term (the cell term
    folded in). ``embedding_bag`` gathers and sums them in one pass.
    """

    def __init__(
        self,
        prepared: _PreparedLiif,
        table: Tensor,
        ys: QueryAxis,
        xs: QueryAxis,
        rows: tuple[int, int],
        cols: tuple[int, int],
        latent_origin: tuple[int, int],
        const: Tensor,
        image: Tensor,
    ) -> None:
        self.prepared = prepared
        (self.oy0, oy1), (self.ox0, ox1) = rows, cols
        dev = prepared.device
        self.image = image  # (3, h, w) normalised float32 on the device, read by the skip
        self.row_skip: tuple[Tensor, ...] | None = None
        self.col_skip: tuple[Tensor, ...] | None = None
        if ys.skip is not None and xs.skip is not None:  # taps of this tile's rows and columns
            self.row_skip = tuple(t[self.oy0 : oy1].to(dev) for t in ys.skip)
            self.col_skip = tuple(t[self.ox0 : ox1].to(dev) for t in xs.skip)
        self.row_index = (ys.index[:, self.oy0 : oy1] - latent_origin[0]).to(dev)
        self.col_index = (xs.index[:, self.ox0 : ox1] - latent_origin[1]).to(dev)
        self.row_rel = ys.rel[:, self.oy0 : oy1].to(dev)
        self.col_rel = xs.rel[:, self.ox0 : ox1].to(dev)
        weight = prepared.coord_weight
        row_terms = self.row_rel[..., None] * weight[:, 0]  # (2, rows, hidden)
        col_terms = self.col_rel[..., None] * weight[:, 1] + const  # (2, cols, hidden)
        self.table_width = table.shape[1]
        self.row_start = table.shape[0] * table.shape[1]
        self.col_start = self.row_start + row_terms.shape[0] * row_terms.shape[1]
        self.n_rows, self.n_cols = row_terms.shape[1], col_terms.shape[1]
        self.terms = torch.cat(
            (
                table.reshape(-1, table.shape[-1]),
                row_terms.flatten(0, 1).to(table.dtype),
                col_terms.flatten(0, 1).to(table.dtype),
            )
        )

    def render(self, r0: int, r1: int, c0: int, c1: int) -> Tensor:
        """Normalised RGB (r1 - r0, c1 - c0, 3), float32, of output rows/columns [r0, r1) x [c0, c1)."""
        r, c = slice(r0 - self.oy0, r1 - self.oy0), slice(c0 - self.ox0, c1 - self.ox0)
        n_rows, n_cols = r1 - r0, c1 - c0
        dev = self.prepared.device
        local_rows = torch.arange(r.start, r.stop, device=dev)
        local_cols = torch.arange(c.start, c.stop, device=dev)
        # Member k = 2a + b uses row shift a and column shift b, as in ENSEMBLE_SHIFTS.
        table_index = self.row_index[:, None, r, None] * self.table_width + self.col_index[None, :, None, c]
        row_term = self.row_start + torch.arange(2, device=dev)[:, None] * self.n_rows + local_rows
        col_term = self.col_start + torch.arange(2, device=dev)[:, None] * self.n_cols + local_cols
        index = torch.stack(
            torch.broadcast_tensors(table_index, row_term[:, None, :, None], col_term[None, :, None, :]),
            dim=-1,
        )
        pred = self.prepared.decode(F.embedding_bag(index.view(-1, 3), self.terms, mode="sum"))

        row_rel, col_rel = self.row_rel[:, r], self.col_rel[:, c]
        area = (row_rel[:, None, :, None] * col_rel[None, :, None, :]).abs().view(4, n_rows, n_cols) + 1e-9
        weights = area.flip(0) / area.sum(0)  # each member weighted by the diagonally opposite area
        out = (pred.view(4, n_rows, n_cols, -1) * weights.unsqueeze(-1)).sum(0)
        return out if self.row_skip is None else out + self.interpolate(r, c)

    def interpolate(self, r: slice, c: slice) -> Tensor:
        """The image skip at the tile's local rows ``r`` and columns ``c``: (rows, cols, 3) float32."""
        row_skip, col_skip = self.row_skip, self.col_skip
        assert row_skip is not None and col_skip is not None  # render() asks only for a model with a skip
        iy, wy = row_skip[0][r], row_skip[1][r]
        ix, wx = col_skip[0][c], col_skip[1][c]
        y0, x0 = int(iy.min()), int(ix.min())
        window = self.image[:, y0 : int(iy.max()) + 1, x0 : int(ix.max()) + 1]  # (3, rows read, cols read)
        along_x = (window[:, :, ix - x0] * wx).sum(-1)  # (3, rows read, cols)
        along_y = (along_x[:, iy - y0] * wy.unsqueeze(-1)).sum(-2)  # (3, rows, cols)
        return along_y.permute(1, 2, 0)


def _to_unit_float(image: np.ndarray) -> Tensor:
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an (h, w, 3) image array, got shape {image.shape}")
    if image.dtype == np.uint8:
        scale = 255.0
    elif image.dtype == np.uint16:
        scale = 65535.0
    elif image.dtype == np.float32:
        scale = 1.0
    else:
        raise ValueError(f"expected uint8, uint16 or float32 image data, got {image.dtype}")
    return torch.from_numpy(np.asarray(image, dtype=np.float32) / scale).permute(2, 0, 1).unsqueeze(0)


def _store(block: Tensor, out_dtype: np.dtype) -> Tensor:
    """Normalised prediction -> [0, 1] -> the output array's dtype (rounded for integers)."""
    unit = block.mul_(0.5).add_(0.5).clamp_(0, 1)
    if out_dtype == np.float32:
        return unit
    if out_dtype == np.uint8:
        return unit.mul_(255).round_().to(torch.uint8)
    return unit.mul_(65535).round_().to(torch.uint16)


@torch.no_grad()
def upscale_array(
    model: LIIF,
    image: np.ndarray,
    size: tuple[int, int],
    *,
    precision: Precision = "fast",
    device: torch.device | str = "cpu",
    tile: int | None = None,
    out_dtype: type[np.uint8] | type[np.uint16] | type[np.float32] = np.uint8,
    progress: Progress | None = None,
) -> np.ndarray:
    """Render an (h, w, 3) image at ``size`` = (height, width) with LIIF.

    image: uint8, uint16 or float32 in [0, 1]. Returns (height, width, 3) of ``out_dtype``
    (uint8, uint16 or float32 in [0, 1], clamped, not rounded). ``tile`` bounds the input
    pixels per side the encoder sees at once (halo excluded); None sizes it to a fixed
    memory budget. The model itself is never modified.
    """
    stored = np.dtype(out_dtype)
    if stored not in (np.uint8, np.uint16, np.float32):
        raise ValueError(f"out_dtype must be uint8, uint16 or float32, not {stored}")
    height, width = size
    if height < 1 or width < 1:
        raise ValueError(f"output size must be positive, got {height}x{width}")
    device = torch.device(device)
    normalised = _to_unit_float(image).sub_(0.5).div_(0.5)  # in place: inputs may be large
    h, w = normalised.shape[-2:]
    prepared = _PreparedLiif(model, precision, device)
    tile = tile or default_tile(model, prepared.dtype, h, w)
    margin = prepared.radius + 1  # encoder receptive field + the 3x3 latent table
    ys, xs = QueryAxis(height, h, model.spec.skip), QueryAxis(width, w, model.spec.skip)
    # Along an axis where a tile plus its halo already spans the image, one tile does it all.
    row_tile, col_tile = (n if tile + 2 * margin >= n else tile for n in (h, w))
    # The cell term of the first layer is the same for every query (reference arithmetic).
    cell = torch.tensor([2 / height, 2 / width]) * torch.tensor([float(h), float(w)])
    const = cell.to(device) @ prepared.coord_weight[:, 2:].T

    source = normalised[0].to(device)  # the skip's source, when the model has one
    out = np.empty((height, width, 3), dtype=stored)
    out_view = torch.from_numpy(out)
    done, total = 0, height * width
    for oy0, oy1 in ys.tiles(row_tile):
        ly0, ly1 = ys.needed(oy0, oy1)
        cy0, cy1 = max(0, ly0 - margin), min(h, ly1 + margin)
        for ox0, ox1 in xs.tiles(col_tile):
            lx0, lx1 = xs.needed(ox0, ox1)
            cx0, cx1 = max(0, lx0 - margin), min(w, lx1 + margin)
            table = prepared.table(normalised[..., cy0:cy1, cx0:cx1])
            table = table[ly0 - cy0 : ly1 - cy0, lx0 - cx0 : lx1 - cx0]
            block = _Tile(prepared, table, ys, xs, (oy0, oy1), (ox0, ox1), (ly0, lx0), const, source)
            col_step = min(ox1 - ox0, prepared.chunk)
            row_step = max(1, prepared.chunk // col_step)
            for r0 in range(oy0, oy1, row_step):
                r1 = min(oy1, r0 + row_step)
                for c0 in range(ox0, ox1, col_step):
                    c1 = min(ox1, c0 + col_step)
                    out_view[r0:r1, c0:c1] = _store(block.render(r0, r1, c0, c1), stored).cpu()
                    done += (r1 - r0) * (c1 - c0)
                    if progress is not None:
                        progress(done, total)
    return out
