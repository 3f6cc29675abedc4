"""``python -m pathodesk.cli``: the same as the ``pathodesk`` command."""

import sys

from pathodesk.cli import main

sys.exit(main())
