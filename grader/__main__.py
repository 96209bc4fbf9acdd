"""`python -m grader ...`: the command line (grader/grading/cli.py)."""
import sys

from grader.grading.cli import main

sys.exit(main())
