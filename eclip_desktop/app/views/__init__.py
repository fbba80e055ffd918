"""What the window shows: image and map panes, tile grids, display maths, figures."""
