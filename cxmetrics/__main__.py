import sys

from cxmetrics.cli import main

sys.exit(main())
