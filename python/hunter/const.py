# Provisional: replaced by the glue branch's full implementation.
import os
import sysconfig
SITE_PACKAGES_PATHS = tuple(sorted({sysconfig.get_path(n) for n in ('purelib', 'platlib')}, key=len, reverse=True))
STDLIB_PATHS = tuple(sorted({sysconfig.get_path(n) for n in ('stdlib', 'platstdlib')} | {os.path.dirname(os.__file__)}, key=len, reverse=True))
SYS_PREFIX_PATHS = STDLIB_PATHS
