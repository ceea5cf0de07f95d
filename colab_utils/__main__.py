import sys

from colab_utils.cli import main

sys.exit(main())
