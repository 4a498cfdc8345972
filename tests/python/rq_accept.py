"""rq (Python job queue) acceptance test.

Enqueues a mix of jobs (results of several types, a failing job, a job that
times out, a job retried until it succeeds, one whose retries run out,
dependencies met and unmet, result TTLs of 0, a few seconds and forever,
meta, a custom id, a batch through enqueue_many, one job at the front of its
queue), runs `rq worker --burst` as a subprocess against the server, then
checks every job's status and result, the registries, the result streams
(rq keeps each job's results in the stream rq:results:<id>, written with
XADD and read with XREVRANGE / XREAD BLOCK / XLEN) and the key TTLs against
fixed expected values.

The server must already be running at 127.0.0.1:PORT; this script starts
none. It FLUSHes database DB (0 unless --db) first.

Usage: rq_accept.py --port PORT [--db DB]
Prints one summary line; exits 1 on any failure.
"""

import argparse
import os
import subprocess
import sys
import time
import traceback

import redis
import rq
from rq import Queue, Retry, Worker
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.registry import DeferredJobRegistry, FailedJobRegistry, FinishedJobRegistry
from rq.results import Result

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import rq_jobs  # noqa: E402  (the worker imports it by name too)

WORKER_TIMEOUT = 25  # seconds the burst worker may take
SHORT_TTL = 4  # result_ttl of the job whose result must expire


class Checker:
    def __init__(self):
        self.passed = 0
        self.failures = []

    def check(self, name, cond, detail=""):
        if cond:
            self.passed += 1
        else:
            self.failures.append(f"{name}: {detail}")

    def eq(self, name, got, want):
        if isinstance(got, set) and isinstance(want, set):
            detail = f"missing {sorted(want - got)}, unexpected {sorted(got - want)}"
        else:
            detail = f"got {got!r}, want {want!r}"
        self.check(name, got == want, detail)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--db", type=int, default=0)
    args = ap.parse_args()
    url = f"redis://127.0.0.1:{args.port}/{args.db}"
    started = time.monotonic()
    c = Checker()
    try:
        run(url, c)
    except Exception:  # an unexpected error is a failure too, with its trace
        c.failures.append("exception: " + traceback.format_exc().strip().replace("\n", "\n    "))
    took = time.monotonic() - started
    for f in c.failures:
        print("FAIL", f, file=sys.stderr)
    verdict = "ok" if not c.failures else "FAILED"
    print(f"rq_accept: {verdict}: rq {rq.__version__}, {c.passed} checks passed, "
          f"{len(c.failures)} failed, {took:.1f}s")
    sys.exit(0 if not c.failures else 1)


def run(url, c):
    conn = redis.Redis.from_url(url)
    conn.flushdb()
    high = Queue("high", connection=conn)
    default = Queue("default", connection=conn)
    log_key = "accept:order"

    # --- enqueue -----------------------------------------------------------
    j = {}
    j["h1"] = high.enqueue(rq_jobs.record, log_key, "h1")
    j["h2"] = high.enqueue(rq_jobs.record, log_key, "h2")
    j["d1"] = default.enqueue(rq_jobs.record, log_key, "d1")
    j["add"] = default.enqueue(rq_jobs.add, 2, 3)
    j["echo"] = default.enqueue(rq_jobs.echo, {"a": [1, 2], "b": "x", "c": None})
    j["none"] = default.enqueue(rq_jobs.no_result)
    j["fail"] = default.enqueue(rq_jobs.fail, "boom")
    j["timeout"] = default.enqueue(rq_jobs.slow, 5, job_timeout=1)
    j["parent"] = default.enqueue(rq_jobs.add, 20, 22)
    j["child"] = default.enqueue(rq_jobs.parent_times_ten, depends_on=j["parent"])
    j["orphan"] = default.enqueue(rq_jobs.add, 1, 1, depends_on=j["fail"])
    j["ttl0"] = default.enqueue(rq_jobs.add, 1, 2, result_ttl=0)
    j["ttl_forever"] = default.enqueue(rq_jobs.add, 5, 5, result_ttl=-1)
    j["flaky"] = default.enqueue(rq_jobs.flaky, "accept:flaky", 1, retry=Retry(max=2))
    j["exhaust"] = default.enqueue(rq_jobs.flaky, "accept:exhaust", 5, retry=Retry(max=1))
    j["retval"] = default.enqueue(rq_jobs.retry_by_return, "accept:retval")
    j["meta"] = default.enqueue(rq_jobs.with_meta, "m")
    j["custom"] = default.enqueue(rq_jobs.echo, "custom", job_id="accept-custom-id")
    j["front"] = default.enqueue(rq_jobs.record, log_key, "d0", at_front=True)
    batch = default.enqueue_many(
        [Queue.prepare_data(rq_jobs.add, (i, i)) for i in range(20)])
    # last in its queue, so that little time passes between its end and the TTL check
    j["ttl_short"] = default.enqueue(rq_jobs.add, 3, 4, result_ttl=SHORT_TTL)

    c.eq("queued: high count", high.count, 2)
    c.eq("queued: default count", default.count, 16 + len(batch))  # 18 single jobs, 2 deferred
    c.eq("queued: child status", j["child"].get_status(), JobStatus.DEFERRED)
    c.eq("queued: add status", j["add"].get_status(), JobStatus.QUEUED)
    c.eq("queued: custom id", j["custom"].id, "accept-custom-id")
    c.check("queued: no result yet", j["add"].latest_result() is None, "a result before any worker ran")

    # --- run the worker ----------------------------------------------------
    env = dict(os.environ)
    env["PYTHONPATH"] = HERE + os.pathsep + env.get("PYTHONPATH", "")
    cmd = [sys.executable, "-m", "rq.cli", "worker", "--burst", "--url", url,
           "--name", "accept-worker", "--logging_level", "WARNING", "high", "default"]
    try:
        p = subprocess.run(cmd, cwd=HERE, env=env, capture_output=True, text=True,
                           timeout=WORKER_TIMEOUT)
    except subprocess.TimeoutExpired as e:
        c.failures.append(f"worker: did not finish within {WORKER_TIMEOUT}s; output:\n{e.stdout}\n{e.stderr}")
        return
    c.check("worker: exit code 0", p.returncode == 0,
            f"exit {p.returncode}; output:\n{p.stdout}\n{p.stderr}")
    worker_done = time.monotonic()
    short_ttl = conn.pttl(j["ttl_short"].key)  # checked below; read now, before it runs out

    # --- statuses and results ---------------------------------------------
    def job(name):
        return Job.fetch(j[name].id, connection=conn)

    want_done = {"h1": "h1", "h2": "h2", "d1": "d1", "front": "d0", "add": 5,
                 "echo": {"a": [1, 2], "b": "x", "c": None}, "none": None,
                 "parent": 42, "child": 420, "ttl_short": 7, "ttl_forever": 10,
                 "flaky": "ok after 2", "retval": "returned after 2", "meta": "m", "custom": "custom"}
    for name, value in want_done.items():
        jb = job(name)
        c.eq(f"{name}: status", jb.get_status(), JobStatus.FINISHED)
        c.eq(f"{name}: return_value", jb.return_value(), value)
        r = jb.latest_result()
        c.eq(f"{name}: latest_result type", r and r.type, Result.Type.SUCCESSFUL)
    for i, bj in enumerate(batch):
        jb = Job.fetch(bj.id, connection=conn)
        c.eq(f"batch[{i}]: status", jb.get_status(), JobStatus.FINISHED)
        c.eq(f"batch[{i}]: return_value", jb.return_value(), 2 * i)

    c.eq("order: high before default, at_front first",
         [x.decode() for x in conn.lrange(log_key, 0, -1)], ["h1", "h2", "d0", "d1"])
    c.check("child: ran after parent",
            job("child").ended_at >= job("parent").ended_at, "child ended before parent")

    # failures
    for name, text in (("fail", "ValueError: boom"), ("timeout", "JobTimeoutException"),
                       ("exhaust", "RuntimeError: flaky attempt 2")):
        jb = job(name)
        c.eq(f"{name}: status", jb.get_status(), JobStatus.FAILED)
        c.eq(f"{name}: return_value", jb.return_value(), None)
        r = jb.latest_result()
        c.eq(f"{name}: latest_result type", r and r.type, Result.Type.FAILED)
        c.check(f"{name}: exc_string", r is not None and text in (r.exc_string or ""),
                f"{text!r} not in {r and r.exc_string!r}")

    # retries after an exception leave no result of their own; a job that
    # returns a Retry gets a RETRIED result, then its final one (newest first)
    c.eq("flaky: result types", [r.type for r in job("flaky").results()],
         [Result.Type.SUCCESSFUL])
    c.eq("flaky: attempts", int(conn.get("accept:flaky")), 2)
    c.eq("exhaust: result types", [r.type for r in job("exhaust").results()],
         [Result.Type.FAILED])
    c.eq("exhaust: attempts", int(conn.get("accept:exhaust")), 2)
    c.eq("exhaust: retries_left", job("exhaust").retries_left, 0)
    c.eq("retval: result types", [r.type for r in job("retval").results()],
         [Result.Type.SUCCESSFUL, Result.Type.RETRIED])
    c.eq("retval: attempts", int(conn.get("accept:retval")), 2)
    c.eq("retval: XLEN of results stream", conn.xlen(f"rq:results:{j['retval'].id}"), 2)

    # dependency on a failed job: never runs
    c.eq("orphan: status", job("orphan").get_status(), JobStatus.DEFERRED)
    c.eq("orphan: return_value", job("orphan").return_value(), None)

    # meta written from inside the job
    c.eq("meta: meta", job("meta").meta.get("seen"), "m")

    # blocking read of a result that is already there (XREAD BLOCK)
    t0 = time.monotonic()
    r = job("add").latest_result(timeout=2)
    c.eq("add: latest_result(timeout=2)", r and r.return_value, 5)
    c.check("add: latest_result(timeout=2) did not block", time.monotonic() - t0 < 1.5,
            f"took {time.monotonic() - t0:.2f}s")
    # ... and of one that never comes: blocks for the timeout, then None
    t0 = time.monotonic()
    r = job("orphan").latest_result(timeout=1)
    waited = time.monotonic() - t0
    c.check("orphan: latest_result(timeout=1) is None", r is None, f"got {r!r}")
    c.check("orphan: latest_result(timeout=1) blocked ~1s", 0.8 <= waited < 3,
            f"waited {waited:.2f}s")

    # --- registries and queues --------------------------------------------
    c.eq("high: empty", high.count, 0)
    c.eq("default: empty", default.count, 0)
    failed_ids = set(FailedJobRegistry(queue=default).get_job_ids())
    c.eq("failed registry", failed_ids, {j["fail"].id, j["timeout"].id, j["exhaust"].id})
    c.eq("deferred registry", set(DeferredJobRegistry(queue=default).get_job_ids()),
         {j["orphan"].id})
    # (ttl_short's entry may already have expired from the registry: left out)
    finished_default = set(FinishedJobRegistry(queue=default).get_job_ids()) - {j["ttl_short"].id}
    want_finished = ({j[n].id for n in want_done if n not in ("h1", "h2", "ttl_short")}
                     | {b.id for b in batch})
    c.eq("finished registry (default)", finished_default, want_finished)
    c.eq("finished registry (high)", set(FinishedJobRegistry(queue=high).get_job_ids()),
         {j["h1"].id, j["h2"].id})
    c.eq("workers after burst", [w.name for w in Worker.all(connection=conn)], [])

    # --- result TTLs --------------------------------------------------------
    c.eq("ttl0: job key deleted", conn.exists(j["ttl0"].key), 0)
    try:
        Job.fetch(j["ttl0"].id, connection=conn)
        c.failures.append("ttl0: Job.fetch did not raise NoSuchJobError")
    except NoSuchJobError:
        c.passed += 1
    c.eq("ttl_forever: job key TTL", conn.ttl(j["ttl_forever"].key), -1)
    add_ttl = conn.ttl(j["add"].key)
    c.check("add: job key TTL <= 500 (default result_ttl)", 0 < add_ttl <= 500, f"ttl {add_ttl}")
    res_ttl = conn.ttl(f"rq:results:{j['add'].id}")
    c.check("add: results stream TTL <= 500", 0 < res_ttl <= 500, f"ttl {res_ttl}")
    c.check(f"ttl_short: job key PTTL <= {SHORT_TTL}000", 0 < short_ttl <= SHORT_TTL * 1000,
            f"pttl {short_ttl}")
    # wait until it has expired, then the job and its result are gone
    time.sleep(max(0.0, SHORT_TTL + 1.2 - (time.monotonic() - worker_done)))
    c.eq("ttl_short: job key expired", conn.exists(j["ttl_short"].key), 0)
    c.eq("ttl_short: results stream expired", conn.exists(f"rq:results:{j['ttl_short'].id}"), 0)
    c.eq("ttl_forever: still there", job("ttl_forever").return_value(), 10)


if __name__ == "__main__":
    main()
