"""The bottom layer: user errors, atomic writes, typed config declarations, device and precision."""
