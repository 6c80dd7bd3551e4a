"""Data for tests and benchmarks: synthetic scenes with exact ground truth (``synthetic``) and
real clips shipped by other packages (``clips``)."""
