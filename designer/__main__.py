"""`python -m designer` does what the `designer` command does."""

import sys

from designer.cli import main

sys.exit(main())
