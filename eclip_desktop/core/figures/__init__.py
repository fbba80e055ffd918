"""Heatmaps drawn as figures: overlay, colour bar, titles, grids, SVG."""
