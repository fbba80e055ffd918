"""The window's model, free of Qt: what is analysed and how it is shown (state), what a change needs
computed (controller), the worker's job functions (jobs/), what each layout shows (scene, layouts) and the
exported figures. The Qt window in `app/` presents it; tests drive it without a display."""
