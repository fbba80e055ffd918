"""The Qt-free core: models, dense features, methods, poolings, rendering, export."""
