"""motionlab: motion diffusion experiments on 2D dance keypoints."""
from motionlab.errors import CheckpointError, ClipError, MotionlabError

__all__ = ["MotionlabError", "ClipError", "CheckpointError"]
__version__ = "0.1.0"
