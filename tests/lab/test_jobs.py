"""The lab's one door for model work: a per-job ceiling, slots sized to the CPUs, one queue in order,
and jobs of sessions that are gone cancelled; a page's job runs in the background, reports progress and
can be cancelled (motionlab.lab.jobs)."""
import threading
import time

import pytest

from motionlab.errors import MotionlabError
from motionlab.lab import jobs


def _wait(cond, timeout=10.0):
    end = time.time() + timeout
    while not cond():
        assert time.time() < end, "timed out"
        time.sleep(0.01)


def test_a_job_over_the_ceiling_is_refused_before_it_starts(monkeypatch):
    monkeypatch.setenv("MOTIONLAB_MAX_JOB_PASSES", "1000")
    ran = []
    with pytest.raises(MotionlabError, match=r"asks for 1,001 model passes; the lab runs at most 1,000 per job"):
        jobs.submit({}, "x", jobs.JobSpec(lambda report: ran.append(1), "Big", 1001))
    assert ran == []
    assert jobs.submit({}, "x", jobs.JobSpec(lambda report: 7, "Fits", 1000)).wait(5)


def test_jobs_beyond_the_slots_wait_in_order_and_know_their_place(monkeypatch):
    monkeypatch.setenv("MOTIONLAB_MAX_JOBS", "1")
    release, order = threading.Event(), []

    def work(tag):
        def fn(report):
            order.append(tag)
            if tag == "a":
                release.wait(10)
            return tag
        return fn

    states = [{} for _ in range(3)]
    a, b, c = (jobs.submit(st, "sample", jobs.JobSpec(work(t), t, 10)) for st, t in zip(states, "abc"))
    _wait(lambda: order == ["a"])
    assert b.queued and c.queued and not a.queued
    assert jobs.DOOR.position(b) == (1, 2) and jobs.DOOR.position(c) == (2, 2) and jobs.DOOR.position(a)[0] == 0
    c.cancel()                                  # a waiting job leaves the queue at once
    assert not c.running and c.cancelled and jobs.DOOR.position(b) == (1, 1)
    release.set()
    assert a.wait(10) and b.wait(10)
    assert order == ["a", "b"] and (a.result, b.result) == ("a", "b")


def test_a_session_that_is_gone_has_its_jobs_cancelled(monkeypatch):
    monkeypatch.setenv("MOTIONLAB_MAX_JOBS", "1")
    monkeypatch.setattr(jobs, "GONE_AFTER_S", 0.2)
    alive, asked = {"s1": True}, []
    monkeypatch.setattr(jobs, "session_alive", lambda sid: asked.append(sid) or alive.get(sid, False))
    monkeypatch.setattr(jobs, "current_session", lambda: "s1")
    steps = []

    def forever(report):
        while True:
            report(0.5, "working")
            steps.append(1)
            time.sleep(0.02)

    j = jobs.submit({}, "sample", jobs.JobSpec(forever, "tab", 10))
    _wait(lambda: len(steps) > 3)
    _wait(lambda: len(asked) >= 2)              # the reaper has looked twice, 1 s apart, past GONE_AFTER_S
    assert j.running                            # its tab is open: it goes on
    alive["s1"] = False                         # the tab closes
    _wait(lambda: not j.running, timeout=10)
    assert j.cancelled and not j.error


def test_one_job_per_name_and_session():
    state, gate = {}, threading.Event()
    j = jobs.submit(state, "x", jobs.JobSpec(lambda report: gate.wait(5), "slow", 1))
    with pytest.raises(MotionlabError, match="already running"):
        jobs.submit(state, "x", jobs.JobSpec(lambda report: 1, "again", 1))
    gate.set()
    assert j.wait(5)


def test_job_runs_in_the_background_and_can_be_cancelled():
    state = {}
    j = jobs.start_job(state, "x", lambda report: (report(0.5, "half"), 42)[1])
    assert j.wait(5) and j.result == 42 and j.fraction == 1.0 and not j.error
    assert jobs.get_job(state, "x") is j

    def slow(report):
        for i in range(1000):
            report(i / 1000, f"{i}")
            time.sleep(0.01)
    j = jobs.start_job(state, "x", slow)
    with pytest.raises(MotionlabError):
        jobs.start_job(state, "x", slow)
    j.cancel()
    assert j.wait(5) and j.cancelled and j.result is None
    j = jobs.start_job(state, "y", lambda report: 1 / 0, label="boom")
    assert j.wait(5) and j.error == "boom failed: ZeroDivisionError: division by zero"
    assert jobs.pop_job(state, "y") is j and jobs.get_job(state, "y") is None
