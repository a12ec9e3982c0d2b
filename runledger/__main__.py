import sys

from runledger.cli import main

sys.exit(main())
