"""One module per command: its options, then a call into the core. Keep imports light:
heavy libraries are imported inside the functions that need them."""
