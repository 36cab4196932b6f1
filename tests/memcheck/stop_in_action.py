"""Issue 13 item 3: an action that calls hunter.stop() frees the Tracer in the middle of an event.

Run under valgrind by tests/memcheck/run.py (once per backend): the hook must not touch the freed tracer.
"""

import hunter


def target():
    return 1


hunter.trace(hunter.Q(function='target', kind='call', action=lambda event: hunter.stop()))
for _ in range(1000):
    target()
print('stop_in_action: done')
