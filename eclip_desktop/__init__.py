"""eclip-desktop: see why a CLIP model matches an image with a text."""

__version__ = "0.1.0"
