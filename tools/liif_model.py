"""LIIF (Local Implicit Image Function, Chen et al., CVPR 2021, arXiv 2012.09161) as PyTorch modules.

Architecture only: no file formats, no image I/O, no training. Module and parameter names
follow the authors' code so their released state dicts load unchanged.

The decoder is evaluated in an algebraically equivalent, cheaper form. The reference
concatenates, for every query and each of the four ensemble members, the 3x3-unfolded latent
vector (576 values), the relative coordinate (2) and the cell size (2), and feeds the 580
values to the MLP. The first MLP layer is linear, so its unfolded-feature part is computed
once per latent pixel as a 3x3 convolution of the feature map (the unfold order
``c * 9 + ky * 3 + kx`` is exactly a conv kernel's layout); each query then gathers that
256-vector and adds the small coordinate and cell terms. For a 4x upscale this does the
576x256 product 64 times less often.

Our own checkpoints may add an image skip, as LTE (Lee and Jin, CVPR 2022) does: the output is
an interpolation of the input image at the query coordinate plus the decoder's prediction, so
the decoder learns only the residual over a plain resize. The authors' LIIF has none.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

ENSEMBLE_SHIFTS = ((-1, -1), (-1, 1), (1, -1), (1, 1))
# Each ensemble member looks this far past half a latent cell, as the reference does (ties then
# fall on one side).
EPS_SHIFT = 1e-6
Skip = Literal["bilinear", "bicubic"]
SKIPS: tuple[str, ...] = ("bilinear", "bicubic")


# ---------------------------------------------------------------- encoders


def _conv(in_channels: int, out_channels: int, kernel: int) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, kernel, padding=kernel // 2)


class _ResBlock(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(_conv(channels, channels, 3), nn.ReLU(True), _conv(channels, channels, 3))

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x) + x


class EDSRBaseline(nn.Module):
    """EDSR-baseline without its upsampler: a feature map at input resolution."""

    def __init__(self, n_resblocks: int = 16, n_feats: int = 64) -> None:
        super().__init__()
        self.out_dim = n_feats
        self.head = nn.Sequential(_conv(3, n_feats, 3))
        self.body = nn.Sequential(
            *[_ResBlock(n_feats) for _ in range(n_resblocks)], _conv(n_feats, n_feats, 3)
        )

    def forward(self, x: Tensor) -> Tensor:
        x = self.head(x)
        return self.body(x) + x


class _DenseLayer(nn.Module):
    def __init__(self, in_channels: int, growth: int) -> None:
        super().__init__()
        self.conv = nn.Sequential(_conv(in_channels, growth, 3), nn.ReLU())

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat((x, self.conv(x)), 1)


class _ResidualDenseBlock(nn.Module):
    def __init__(self, channels: int, growth: int, layers: int) -> None:
        super().__init__()
        self.convs = nn.Sequential(*[_DenseLayer(channels + i * growth, growth) for i in range(layers)])
        self.LFF = nn.Conv2d(channels + layers * growth, channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.LFF(self.convs(x)) + x


class RDN(nn.Module):
    """Residual Dense Network (config B) without its upsampler."""

    def __init__(self, channels: int = 64, blocks: int = 16, layers: int = 8, growth: int = 64) -> None:
        super().__init__()
        self.out_dim = channels
        self.SFENet1 = _conv(3, channels, 3)
        self.SFENet2 = _conv(channels, channels, 3)
        self.RDBs = nn.ModuleList([_ResidualDenseBlock(channels, growth, layers) for _ in range(blocks)])
        self.GFF = nn.Sequential(nn.Conv2d(blocks * channels, channels, 1), _conv(channels, channels, 3))

    def forward(self, x: Tensor) -> Tensor:
        shallow = self.SFENet1(x)
        x = self.SFENet2(shallow)
        outputs = []
        for block in self.RDBs:
            x = block(x)
            outputs.append(x)
        return self.GFF(torch.cat(outputs, 1)) + shallow


ENCODERS = {"edsr-baseline": EDSRBaseline, "rdn": RDN}


# ---------------------------------------------------------------- decoder


class MLP(nn.Module):
    def __init__(self, in_dim: int, out_dim: int, hidden_list: Sequence[int]) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        last = in_dim
        for hidden in hidden_list:
            layers += [nn.Linear(last, hidden), nn.ReLU()]
            last = hidden
        layers.append(nn.Linear(last, out_dim))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.layers(x)

    @property
    def first(self) -> nn.Linear:
        """The first linear layer, whose columns split into feature and coordinate weights."""
        layer = self.layers[0]
        assert isinstance(layer, nn.Linear)
        return layer


# ---------------------------------------------------------------- coordinates


def pixel_centers(n: int, device: torch.device | str | None = None) -> Tensor:
    """Centres of n pixels spanning [-1, 1], computed exactly as the reference does."""
    r = 1.0 / n
    return -1 + r + (2 * r) * torch.arange(n, device=device).float()


def make_coord(height: int, width: int, device: torch.device | str | None = None) -> Tensor:
    """(height*width, 2) pixel-centre coordinates, row (y) first, row-major order."""
    ys = pixel_centers(height, device)
    xs = pixel_centers(width, device)
    return torch.stack(torch.meshgrid(ys, xs, indexing="ij"), dim=-1).view(-1, 2)


def nearest_index(q: Tensor, n: int) -> Tensor:
    """Index of the latent pixel nearest to each coordinate ``q`` in [-1, 1] along an axis of ``n``."""
    # grid_sample(mode="nearest", align_corners=False): unnormalise, then round half to even.
    return torch.round(((q + 1) * n - 1) / 2).long().clamp_(0, n - 1)


def skip_taps(q: Tensor, n: int, mode: Skip) -> tuple[Tensor, Tensor]:
    """Input pixels and weights that interpolate an axis of ``n`` pixels at coordinates ``q``.

    q in [-1, 1] (pixel centres at ``pixel_centers(n)``, i.e. align_corners=False); returns
    (index, weight), each shaped ``q.shape + (taps,)``, with 2 taps for bilinear and 4 for
    bicubic (Keys' cubic with a = -0.5). As in PIL's resize, taps past the border get no weight
    and the others are renormalised, so a zero residual reproduces PIL's bicubic (or bilinear)
    upscale, the baseline of every fidelity table. Interpolation is separable: an image is
    interpolated by applying these along x, then along y.
    """
    pos = ((q.float() + 1) * n - 1) / 2  # in input pixels, 0 = centre of the first
    base = torch.floor(pos)
    t = (pos - base).unsqueeze(-1)
    if mode == "bilinear":
        offsets = torch.arange(2, device=q.device)
        weight = torch.cat((1 - t, t), -1)
    elif mode == "bicubic":
        offsets = torch.arange(-1, 3, device=q.device)
        d = (t - offsets).abs()  # distance to each tap, in [0, 2]
        near = (1.5 * d - 2.5) * d * d + 1
        far = ((-0.5 * d + 2.5) * d - 4) * d + 2
        weight = torch.where(d <= 1, near, far)
    else:
        raise ValueError(f"unknown skip interpolation {mode!r} (known: {', '.join(SKIPS)})")
    index = base.long().unsqueeze(-1) + offsets
    weight = weight * ((index >= 0) & (index < n))
    return index.clamp_(0, n - 1), weight / weight.sum(-1, keepdim=True)


# ---------------------------------------------------------------- LIIF


@dataclass(frozen=True)
class LiifSpec:
    """Everything needed to rebuild a LIIF network, as stored beside its weights."""

    encoder: str = "edsr-baseline"
    hidden_list: tuple[int, ...] = (256, 256, 256, 256)
    skip: Skip | None = None  # image skip added to the decoder's output; None in the authors' LIIF

    def to_args(self) -> dict:
        """The authors' ``model.args`` layout (plus ``skip``), so checkpoints stay interchangeable."""
        return {
            "encoder_spec": {"name": self.encoder, "args": {"no_upsampling": True}},
            "imnet_spec": {"name": "mlp", "args": {"out_dim": 3, "hidden_list": list(self.hidden_list)}},
            "skip": self.skip,
        }

    @classmethod
    def from_args(cls, args: dict) -> LiifSpec:
        encoder = args["encoder_spec"]["name"]
        if encoder not in ENCODERS:
            raise ValueError(f"unknown LIIF encoder {encoder!r} (known: {', '.join(ENCODERS)})")
        if args.get("imnet_spec", {}).get("name", "mlp") != "mlp":
            raise ValueError("only the MLP decoder ('imnet_spec.name' = 'mlp') is supported")
        if not args["encoder_spec"].get("args", {}).get("no_upsampling", False):
            raise ValueError("LIIF encoders must be built with no_upsampling=True")
        hidden = tuple(int(h) for h in args["imnet_spec"]["args"].get("hidden_list", (256,) * 4))
        for flag in ("local_ensemble", "feat_unfold", "cell_decode"):
            if not args.get(flag, True):
                raise ValueError(f"LIIF variants without {flag} are not supported")
        skip = args.get("skip")
        if skip is not None and skip not in SKIPS:
            raise ValueError(f"unknown skip {skip!r} (known: {', '.join(SKIPS)}, or null)")
        return cls(encoder=encoder, hidden_list=hidden, skip=skip)


class LIIF(nn.Module):
    """Encoder + implicit decoder with feature unfolding, local ensemble and cell decoding."""

    def __init__(self, spec: LiifSpec = LiifSpec()) -> None:
        super().__init__()
        self.spec = spec
        self.encoder = ENCODERS[spec.encoder]()
        self.feat_dim = self.encoder.out_dim
        self.imnet = MLP(self.feat_dim * 9 + 4, 3, spec.hidden_list)

    def encode(self, image: Tensor) -> Tensor:
        """(B, 3, h, w) normalised image -> (B, C, h, w) latent feature map."""
        return self.encoder(image)

    def latent_table(self, feat: Tensor) -> Tensor:
        """First decoder layer applied to the unfolded features: (B, h*w, hidden)."""
        first = self.imnet.first
        kernel = first.weight[:, : self.feat_dim * 9].reshape(-1, self.feat_dim, 3, 3)
        table = F.conv2d(feat, kernel, first.bias, padding=1)
        return table.flatten(2).transpose(1, 2)

    def interpolate(self, image: Tensor, coord: Tensor) -> Tensor:
        """The spec's interpolation of the (B, 3, h, w) image at (B, Q, 2) coordinates: (B, Q, 3)."""
        assert self.spec.skip is not None
        batch, channels, h, w = image.shape
        iy, wy = skip_taps(coord[..., 0], h, self.spec.skip)  # (B, Q, k)
        ix, wx = skip_taps(coord[..., 1], w, self.spec.skip)
        pixels = image.float().flatten(2).transpose(1, 2)  # (B, h*w, 3)
        flat = (iy.unsqueeze(-1) * w + ix.unsqueeze(-2)).flatten(1)  # (B, Q*k*k)
        taps = torch.gather(pixels, 1, flat.unsqueeze(-1).expand(-1, -1, channels))
        taps = taps.view(*iy.shape, ix.shape[-1], channels)  # (B, Q, ky, kx, 3)
        along_x = (taps * wx.unsqueeze(-2).unsqueeze(-1)).sum(-2)  # (B, Q, ky, 3)
        return (along_x * wy.unsqueeze(-1)).sum(-2)

    def query(
        self,
        feat: Tensor,
        coord: Tensor,
        cell: Tensor,
        table: Tensor | None = None,
        image: Tensor | None = None,
    ) -> Tensor:
        """RGB (normalised) at continuous coordinates.

        feat: (B, C, h, w); coord: (B, Q, 2) in [-1, 1], (y, x); cell: (B, Q, 2) output pixel
        size in the same units; table: ``latent_table(feat)`` when the caller reuses it across
        query chunks; image: the normalised input, needed when the spec has a skip.
        Coordinate arithmetic stays float32 whatever the weights' dtype.
        """
        if self.spec.skip is not None and image is None:
            raise ValueError(f"this LIIF adds a {self.spec.skip} skip: query() needs the input image")
        _, _, h, w = feat.shape
        if table is None:
            table = self.latent_table(feat)
        coord = coord.float()
        size = coord.new_tensor([h, w])
        first = self.imnet.first
        coord_weight = first.weight[
            :, self.feat_dim * 9 :
        ].float()  # (hidden, 4): rel y, rel x, cell y, cell x
        cell_term = (cell.float() * size) @ coord_weight[:, 2:].T  # (B, Q, hidden)

        # Each member looks half a latent cell away (offsets rounded once, like the reference).
        offsets = coord.new_tensor([[vy / h + EPS_SHIFT, vx / w + EPS_SHIFT] for vy, vx in ENSEMBLE_SHIFTS])
        shifted = (coord.unsqueeze(0) + offsets.view(4, 1, 1, 2)).clamp_(-1 + 1e-6, 1 - 1e-6)  # (4, B, Q, 2)
        iy = nearest_index(shifted[..., 0], h)
        ix = nearest_index(shifted[..., 1], w)
        centers = torch.stack((pixel_centers(h, coord.device)[iy], pixel_centers(w, coord.device)[ix]), -1)
        rel = (coord.unsqueeze(0) - centers) * size  # (4, B, Q, 2)

        batch, queries = coord.shape[:2]
        first_row = (torch.arange(batch, device=coord.device) * (h * w)).view(1, batch, 1)
        gathered = table.reshape(-1, table.shape[-1])[
            (iy * w + ix + first_row).flatten(1)
        ]  # (4, B*Q, hidden)
        hidden = gathered.view(4, batch, queries, -1).float() + rel @ coord_weight[:, :2].T + cell_term
        pred = self.imnet.layers[1:](hidden.to(table.dtype)).float()  # (4, B, Q, 3)

        area = (rel[..., 0] * rel[..., 1]).abs() + 1e-9  # (4, B, Q)
        weights = area.flip(0) / area.sum(0)  # each member weighted by the diagonally opposite area
        out = (pred * weights.unsqueeze(-1)).sum(0)
        if self.spec.skip is None:
            return out
        if image is None:
            raise ValueError("a model with an image skip is queried with its input image")
        return out + self.interpolate(image, coord)

    def forward(self, image: Tensor, coord: Tensor, cell: Tensor) -> Tensor:
        return self.query(self.encode(image), coord, cell, image=image)
