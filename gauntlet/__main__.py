import sys

from gauntlet.cli import gauntlet_main

sys.exit(gauntlet_main())
