"""One presenter per area of the window: it listens to the window's state and drives its own widgets and jobs."""
