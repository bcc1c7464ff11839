"""``python -m heartcv`` is the ``heartcv`` command."""

import sys

from heartcv.cli import main

sys.exit(main())
