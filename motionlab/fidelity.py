"""`python -m motionlab.fidelity`: the study lives in motionlab.studies.fidelity."""
import sys

from motionlab.cli import run_main
from motionlab.studies.fidelity import main

if __name__ == "__main__":
    sys.exit(run_main("motionlab.fidelity", main))
