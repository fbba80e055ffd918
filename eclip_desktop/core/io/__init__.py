"""Reading images, writing files atomically, per-user folders."""
