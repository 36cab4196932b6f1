from ._hunter import __version__  # noqa: F401
