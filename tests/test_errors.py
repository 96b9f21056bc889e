"""motionlab.errors: every error of the package is a MotionlabError, itself a ValueError."""
from motionlab import ClipError, MotionlabError


def test_error_hierarchy():
    assert issubclass(ClipError, MotionlabError) and issubclass(MotionlabError, ValueError)
