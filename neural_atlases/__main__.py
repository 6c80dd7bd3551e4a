"""``python -m neural_atlases``: the same as the ``neural-atlases`` command."""

import sys

from neural_atlases.cli.main import main

sys.exit(main())
