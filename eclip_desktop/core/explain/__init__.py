"""From an image analysis and a text to a Heatmap: the cached analysis, the engine, the methods."""
