"""A tracer started while another runs, each on its own backend (OUTER_BACKEND, INNER_BACKEND in the environment;
hunter 3.9.0, which has settrace only, ignores them): the inner one replaces the outer one on its thread until it
stops, and on the threads started meanwhile, as two settrace tracers do. Prints what each saw of `work`."""

import os
import threading

import hunter


def backend_options(name):
    return {'backend': os.environ[name]} if name in os.environ else {}


def work():
    return 1


def recorder(label):
    # A tracer's depth counts the calls of every thread it traces: another thread's depth depends on what the main
    # thread (joining it) does meanwhile.
    def record(event):
        main = threading.current_thread() is threading.main_thread()
        print(label, event.kind, event.depth if main else 'in a thread', event.function)

    return hunter.Q(function='work', action=record)


def start_inner():
    return hunter.Tracer(**backend_options('INNER_BACKEND')).trace(recorder('inner'))


outer = hunter.Tracer(**backend_options('OUTER_BACKEND')).trace(recorder('outer'))
work()
inner = start_inner()
work()
thread = threading.Thread(target=work)
thread.start()
thread.join()
inner.stop()
work()
outer.stop()
work()
print('done')
