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
    """A setting is out of range. `field` names it (the CLI shows it as a flag, a form by its label) and
    `detail` says what is wrong; str() is 'field detail'."""

    def __init__(self, field: str, detail: str = ""):
        self.field, self.detail = (field, detail) if detail else ("", field)
        super().__init__(f"{self.field} {self.detail}" if self.field else self.detail)


def one_line(e: BaseException, limit: int = 300) -> str:
    """The line a user reads for an exception: the first line of its message (torch and friends put the
    reason first and advice after), white space folded, cut at `limit`; the type's name when empty."""
    first = next((ln for ln in str(e).splitlines() if ln.strip()), "")
    s = " ".join(first.split()) or type(e).__name__
    return s if len(s) <= limit else s[:limit - 1] + "…"
