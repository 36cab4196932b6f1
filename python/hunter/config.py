"""Lazy defaults for action options that ``PYTHONHUNTERCONFIG`` (or :func:`hunter.load_config`) may override."""


class Default:
    """
    A keyword-argument default that is looked up in ``hunter._default_config`` when the action is constructed,
    falling back to ``fallback_value`` when the config does not set ``key``.
    """

    def __init__(self, key, fallback_value):
        self.key = key
        self.fallback_value = fallback_value

    def resolve(self):
        # Looked up on every call: the config is loaded after the actions module is imported and can be reloaded.
        from . import _default_config

        return _default_config.get(self.key, self.fallback_value)

    # Signatures and docs show the built-in default, not whatever the config currently says (as hunter does).
    def __str__(self):
        return str(self.fallback_value)

    def __repr__(self):
        return repr(self.fallback_value)


def is_set(value):
    """Whether ``value`` was chosen (given, or set by the config) rather than left at its built-in default."""
    if not isinstance(value, Default):
        return True
    from . import _default_config

    return value.key in _default_config


def resolve(value):
    """Return the configured value if ``value`` is a :class:`Default`, else ``value`` itself."""
    if isinstance(value, Default):
        return value.resolve()
    return value
