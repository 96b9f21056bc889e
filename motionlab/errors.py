"""Errors that carry a one-line, user-facing message."""


class MotionlabError(ValueError):
    """Base class: the message names the problem and is safe to show as is."""


class ClipError(MotionlabError):
    """A clip file or array is malformed."""


class CheckpointError(MotionlabError):
    """A checkpoint is missing, truncated, incompatible or not ours."""


class PoseFileError(MotionlabError):
    """A pose file (MediaPipe, COCO, OpenPose) cannot be read or converted into a clip."""


class ConfigError(MotionlabError):
    """A config field is out of range; the message starts with the field's name (CLIs show it as a flag)."""
