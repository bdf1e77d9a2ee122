import sys

from jaxent.cli import main

sys.exit(main())
