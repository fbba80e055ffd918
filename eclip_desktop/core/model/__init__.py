"""Loading a CLIP (open_clip) and its family, device, checkpoints; features, texts and poolings."""
