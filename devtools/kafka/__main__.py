"""``python -m devtools.kafka``: see :mod:`devtools.kafka.cli`."""

import sys

from .cli import main

sys.exit(main())
