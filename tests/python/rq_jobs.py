"""Job functions for rq_accept.py.

The rq worker imports these by dotted name ("rq_jobs.add", ...), so this
module must be importable by the worker: rq_accept.py runs the worker with
this directory as its cwd and on PYTHONPATH.
"""

import time

from rq import get_current_job


def add(a, b):
    return a + b


def echo(value):
    return value


def no_result():
    return None


def fail(message):
    raise ValueError(message)


def slow(seconds):
    time.sleep(seconds)
    return "slept"


def record(log_key, name):
    """Appends `name` to the list `log_key`, to check the execution order."""
    job = get_current_job()
    job.connection.rpush(log_key, name)
    return name


def parent_times_ten():
    """Reads the return value of the job this one depends on."""
    job = get_current_job()
    parent = job.dependency
    return parent.return_value() * 10


def flaky(counter_key, failures):
    """Fails the first `failures` times it runs (counted in `counter_key`)."""
    job = get_current_job()
    n = job.connection.incr(counter_key)
    if n <= failures:
        raise RuntimeError(f"flaky attempt {n}")
    return f"ok after {n}"


def with_meta(value):
    job = get_current_job()
    job.meta["seen"] = value
    job.save_meta()
    return value


def retry_by_return(counter_key):
    """Asks for a retry by returning a Retry object the first time it runs."""
    from rq import Retry

    job = get_current_job()
    n = job.connection.incr(counter_key)
    if n == 1:
        return Retry(max=2)
    return f"returned after {n}"
