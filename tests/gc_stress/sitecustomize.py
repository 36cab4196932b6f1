"""Imported at start-up by every interpreter of the gc-stress lane (its directory is on PYTHONPATH; see .ci/run): the
collector runs at every allocation of a tracked object, so a native object it traverses half-made, or an object
freed under code that still uses it, shows at the first test that reaches it, not once in a million runs."""

import gc

gc.set_threshold(1)
