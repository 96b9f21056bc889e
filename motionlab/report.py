"""`python -m motionlab.report`: the study lives in motionlab.studies.report."""
import sys

from motionlab.cli import run_main
from motionlab.studies.report import main

if __name__ == "__main__":
    sys.exit(run_main("motionlab.report", main))
