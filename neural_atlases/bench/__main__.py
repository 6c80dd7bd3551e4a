"""``python -m neural_atlases.bench``: the synthetic benchmarks (``bench.spine``)."""

import sys

from neural_atlases.bench.spine import main

sys.exit(main())
