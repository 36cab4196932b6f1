# STAND-IN written by the actions helper so that hunter.actions imports. Another helper owns the real
# hunter/config.py: on merge, keep theirs (it must provide Default(key, fallback) and resolve(value)).
class Default:
    """A keyword default that is looked up in ``hunter._default_config`` when the action is built."""

    def __init__(self, key, fallback_value):
        self.key = key
        self.fallback_value = fallback_value

    def resolve(self):
        from . import _default_config

        return _default_config.get(self.key, self.fallback_value)

    def __str__(self):
        return str(self.fallback_value)

    def __repr__(self):
        return repr(self.fallback_value)


def resolve(value):
    return value.resolve() if isinstance(value, Default) else value
