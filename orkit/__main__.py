import sys

from orkit.cli.main import main

sys.exit(main())
