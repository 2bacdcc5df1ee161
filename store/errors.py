"""Errors a user can act on. Pages show them with gr.Warning; the CLI prints them and exits 2."""


class StoreError(ValueError):
    """Base class: a clear message about input the store refused. Nothing was saved."""


class ValidationError(StoreError):
    """Input breaks a rule of SPEC.md (label names, colors, shapes, ...)."""


class NotFound(StoreError):
    """A job, dataset, sample or label that does not exist."""


class StorageError(StoreError):
    """Object storage could not be reached or refused the request."""


class Conflict(StoreError):
    """The request clashes with the current state (a name already taken, a run in progress)."""


class Forbidden(StoreError):
    """The acting user's role does not allow this (a labeler reviewing, a member accepting)."""
