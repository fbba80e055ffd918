"""The worker: a yielding job lets queued jobs run at its safe points; yielding jobs never nest."""
import time

from PySide6.QtCore import QTimer

from eclip_desktop.app.workers.jobs import Job, JobRunner


def _steps(name, order, steps=3, on_first=None, pause=0.2):
    """A job of `steps` steps; between steps it offers its safe point for `pause` seconds."""
    def run(ctx):
        for i in range(steps):
            order.append(f"{name}{i}")
            if i == 0 and on_first:
                on_first()
            t = time.monotonic()
            while time.monotonic() - t < pause:
                ctx.let_others_run()
        return name
    return run


def _short(order):
    def run(ctx):
        order.append("short")
        return "short"
    return run


def test_yielding_job_runs_queued_jobs_between_steps_and_defers_its_peers(qtbot):
    runner = JobRunner("test")
    order, done, pending = [], [], []
    runner.succeeded.connect(lambda kind, result: done.append(result))

    def submit_pending():  # on the UI thread, as a user's clicks would be
        while pending:
            runner.submit(pending.pop(0))

    timer = QTimer()
    timer.timeout.connect(submit_pending)
    timer.start(5)
    def queue_two():
        pending.extend([Job("maps", _short(order)), Job("batchB", _steps("B", order, 2), yields=True)])
    runner.submit(Job("batchA", _steps("A", order, on_first=queue_two), yields=True))
    qtbot.waitUntil(lambda: len(done) == 3, timeout=10_000)
    timer.stop()
    assert done == ["short", "A", "B"]
    # the short job ran inside A (between its steps); B waited for A to end instead of nesting in it
    assert order.index("short") < order.index("A2") < order.index("B0")
    assert runner.shutdown()


def test_a_job_that_does_not_yield_keeps_its_queue_waiting(qtbot):
    runner = JobRunner("test")
    order, done = [], []
    runner.succeeded.connect(lambda kind, result: done.append(result))
    runner.submit(Job("export", _steps("P", order, 2, pause=0.3)))  # let_others_run is a no-op here
    qtbot.wait(50)
    runner.submit(Job("maps", _short(order)))
    qtbot.waitUntil(lambda: len(done) == 2, timeout=10_000)
    assert order == ["P0", "P1", "short"] and done == ["P", "short"]
    assert runner.shutdown()


def test_each_job_tells_its_own_handlers_and_then_lets_them_go(qtbot):
    """Typed results: the submitter names where the outcome goes; after it, the runner keeps no
    reference to the handlers (they usually reach the window: no cycle through the runner)."""
    import gc
    import weakref

    from eclip_desktop.core.errors import EclipError

    class Receiver:
        def __init__(self):
            self.got = []

        def done(self, result):
            self.got.append(("done", result))

        def failed(self, message):
            self.got.append(("failed", message))

    def boom(ctx):
        raise EclipError("no such file")

    runner = JobRunner("test")
    receiver = Receiver()
    got, ref = receiver.got, weakref.ref(receiver)
    runner.submit(Job("a", _short([]), done=receiver.done, failed=receiver.failed))
    runner.submit(Job("b", boom, done=receiver.done, failed=receiver.failed))
    qtbot.waitUntil(lambda: len(got) == 2, timeout=10_000)
    assert sorted(got) == [("done", "short"), ("failed", "no such file")]
    receiver = None
    gc.collect()
    assert ref() is None, "a finished job must not keep its handlers alive"
    assert runner.shutdown()
