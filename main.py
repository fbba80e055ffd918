"""Start eclip-desktop from a source checkout: same entry point as the installed command."""
import sys

from eclip_desktop.cli import main

if __name__ == "__main__":
    sys.exit(main())
