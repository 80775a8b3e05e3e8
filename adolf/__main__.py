import sys

from adolf.cli import main

sys.exit(main())
