"""noisybnn."""
