"""The one error type the catalog raises: its message is a sentence a user can act on."""


class CatalogError(ValueError):
    """The catalog cannot do what was asked; the message says why and what to do."""
