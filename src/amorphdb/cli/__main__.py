"""``python -m amorphdb.cli``."""

import sys

from amorphdb.cli import main

sys.exit(main())
