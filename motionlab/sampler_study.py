"""`python -m motionlab.sampler_study`: the study lives in motionlab.studies.sampler_study."""
import sys

from motionlab.cli import run_main
from motionlab.studies.sampler_study import main

if __name__ == "__main__":
    sys.exit(run_main("motionlab.sampler_study", main))
