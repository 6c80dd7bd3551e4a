"""Input and output: images and folders of frames (``images``), videos (``video``, PyAV) and the
project folder layout (``project``). The lowest layer of the package: it imports nothing above it.
"""
