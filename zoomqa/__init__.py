"""zoomqa: ask about image super-resolution research and see the answer work on your own picture."""

__version__ = "0.1.0"
