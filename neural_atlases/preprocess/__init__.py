"""Preprocessing: everything computed once from the frames before training.

``flow``        dense optical flow (OpenCV DIS) at any frame gap, forward/backward consistency.
``masks``       class-agnostic motion masks that bootstrap the foreground alpha.
``transforms``  per-frame global transforms of each layer, chained to frame 0, that initialise
                the mappings into the atlases.

All functions are pure functions of numpy arrays: no file I/O, no caching, no printing.
"""
