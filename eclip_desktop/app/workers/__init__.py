"""The worker thread and the jobs it runs off the UI thread."""
