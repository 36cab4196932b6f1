"""Load a given actions.py as ``hunter.actions`` inside the real hunter (the interpreter must run with -S)."""

import importlib.abc
import importlib.util
import sys


class _ActionsSubstitute(importlib.abc.MetaPathFinder):
    def __init__(self, path):
        self.path = path

    def find_spec(self, fullname, path=None, target=None):
        if fullname == 'hunter.actions':
            return importlib.util.spec_from_file_location(fullname, self.path)
        return None


def use_actions_file(actions_path, site_packages):
    # Under -S, hunter.pth has not run, so hunter is not imported yet and every part of it will use our classes.
    assert 'hunter' not in sys.modules, 'run with python -S so that hunter.pth does not import hunter first'
    sys.path.append(site_packages)
    sys.meta_path.insert(0, _ActionsSubstitute(actions_path))
