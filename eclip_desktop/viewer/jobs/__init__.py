"""Job functions the window runs on its worker threads: plain callables over the core, no Qt."""
