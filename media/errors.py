"""The one error of media/: a file that cannot be used, with a message a user can act on."""


class MediaError(ValueError):
    """A file was refused or cannot be decoded (empty, corrupt, truncated, too large, unsupported)."""
