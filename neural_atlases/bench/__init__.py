"""The benchmarks, above the pipeline they measure: each trains through the real command line, in
a child process, and measures what a user gets.

- ``spine``: the synthetic single-layer scene (``make bench``) and the two-sprite scene
  (``make bench-multi``); ``python -m neural_atlases.bench`` runs it;
- ``compare``: the fast and the paper model side by side (``make bench-compare``);
- ``real``: real clips through the default path (``make bench-real``,
  ``python -m neural_atlases.bench.real``);
- ``measure``: how they run the command line (time, peak memory, stderr) and measure a
  synthetic project; ``results``: how every benchmark prints and writes its table.
"""
