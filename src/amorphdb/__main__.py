"""``python -m amorphdb``."""

import sys

from amorphdb.cli import main

sys.exit(main())
