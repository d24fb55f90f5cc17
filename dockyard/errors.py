"""Errors the engine raises. Each carries the one line a user sees."""


class DockyardError(Exception):
    """Base class: str(error) is the single line printed to the user."""

    exit_code = 1


class InvalidReference(DockyardError):
    """A name, tag or digest that does not follow Docker's grammar."""


class InvalidDigest(DockyardError):
    """A digest string that is malformed or uses an unknown algorithm."""


class NotFound(DockyardError):
    """An image, container, blob or layer that does not exist."""


class Conflict(DockyardError):
    """The operation is refused because of the state of the store."""


class InvalidArchive(DockyardError):
    """An archive, layer or manifest from outside that fails a check."""


class InvalidArgument(DockyardError):
    """A flag or argument value the command cannot use."""
