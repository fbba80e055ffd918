"""Writing results: the explain job, batch export with its index, reproduce."""
