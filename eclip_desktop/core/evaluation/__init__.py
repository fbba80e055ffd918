"""Measuring maps: metrics, datasets with masks, evaluation runs, benchmarks."""
