import sys

from eclip_desktop.cli import main

sys.exit(main())
