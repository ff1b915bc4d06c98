"""Typed traits of a bundled card: what kind of work it is, what pictures and damage it is made
for, whether and how it enlarges, and what it needs to run.

Every value comes from a closed vocabulary and is checked strictly when a card is loaded, so a
misspelt or unknown value stops the import with the card's line. The anchor
(agent/compose/anchor.py) reads them: ``role`` says what is a yardstick or off the subject,
``output`` what invents detail, ``scale`` what cannot enlarge.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Role = Literal["method", "tool", "dataset", "metric", "concept", "other"]
Handles = Literal[
    "photos",
    "faces",
    "illustrations",  # anime, drawings, manga, comics
    "text",
    "old_photos",
    "jpeg",
    "noise",
    "blur",
    "scratches",
    "real_world",  # unknown or mixed damage
    "any",
]
Scale = Literal["any", "fixed", "none"]
Output = Literal["faithful", "generative", "none"]
Hardware = Literal["cpu", "gpu", "either", "none"]
Speed = Literal["fast", "moderate", "slow", "none"]

IMAGE_ROLES = ("method", "tool")  # works that turn a picture into a better one


class Traits(BaseModel):
    """What a card is about, in values a program can filter on.

    - ``role``: ``method`` (a paper or model that enlarges or restores pictures), ``tool``
      (software without a paper of its own), ``dataset``, ``metric``, ``concept`` (an analysis
      such as the perception-distortion trade-off) or ``other`` (not about restoring pictures).
    - ``handles``: the picture kinds and damage kinds it is made for; empty unless an image method.
    - ``scale``: ``any`` factor, ``fixed`` factors (one trained model per factor, listed in
      ``factors`` where the card names them) or ``none`` (does not enlarge).
    - ``output``: ``faithful`` (pixel-loss regression, no invented detail), ``generative``
      (GAN, diffusion or learnt priors that invent plausible detail) or ``none``.
    - ``hardware``: ``cpu``, ``gpu`` (needs one in practice), ``either`` or ``none``.
    - ``speed``: ``fast`` (real-time or light), ``moderate``, ``slow`` (diffusion, per-image
      optimisation, heavy) or ``none``.
    """

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    role: Role
    handles: list[Handles] = Field(max_length=11)
    scale: Scale
    factors: list[Annotated[int, Field(ge=2, le=64)]] = Field(default_factory=list, max_length=8)
    output: Output
    hardware: Hardware
    speed: Speed

    @model_validator(mode="after")
    def _consistent(self) -> Traits:
        if len(set(self.handles)) != len(self.handles):
            raise ValueError(f"handles lists a value twice: {self.handles}")
        if self.factors and self.scale != "fixed":
            raise ValueError(f"factors belong to scale 'fixed' only, not {self.scale!r}")
        if self.factors != sorted(set(self.factors)):
            raise ValueError(f"factors must be ascending without repeats: {self.factors}")
        if self.role in IMAGE_ROLES:
            unset = [name for name in ("output", "hardware", "speed") if getattr(self, name) == "none"]
            if not self.handles:
                unset.insert(0, "handles")
            if unset:
                raise ValueError(f"a {self.role} must set {', '.join(unset)}")
        else:
            wrong = [
                name for name in ("scale", "output", "hardware", "speed") if getattr(self, name) != "none"
            ]
            if self.handles:
                wrong.insert(0, "handles")
            if wrong:
                raise ValueError(
                    f"a {self.role} card is not an image method: {', '.join(wrong)} must be empty or 'none'"
                )
        return self
