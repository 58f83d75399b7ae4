import sys

from hsvae.cli import main

sys.exit(main())
