"""Where the repository's own folders are: one definition for every module that reads them."""
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "data"
CHECKPOINTS = REPO / "checkpoints"
DOCS = REPO / "docs"
