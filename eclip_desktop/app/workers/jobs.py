"""One long-lived worker thread per runner; jobs go in by signal, results come back by signal.

A job is a plain function of a context (see compute.py). Submitting a job of a kind cancels the
older job of that kind, running or queued, and results of superseded jobs are dropped, so a burst
of requests costs at most the one running plus the newest. Cancellation is cooperative: jobs call
ctx.check() between steps, which is how a cancel lands within about a second.

A long job marked `yields` (a batch export) calls ctx.let_others_run() at its safe points; the jobs
queued meanwhile (a new map, a model switch) run there, on the same thread and state, so the window
keeps answering during a long export. Another yielding job that arrives then waits until the
running one ends instead of nesting inside it.
"""
from __future__ import annotations

import itertools
import logging
import threading
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable

from PySide6.QtCore import QCoreApplication, QObject, QThread, Signal, Slot

from eclip_desktop.core.errors import CancelledError, EclipError

log = logging.getLogger(__name__)


class CancelToken:
    def __init__(self):
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def wait(self, seconds: float) -> bool:
        return self._event.wait(seconds)


@dataclass
class Job:
    kind: str
    run: Callable[["JobContext"], Any]
    label: str = ""
    seq: int = 0
    token: CancelToken = field(default_factory=CancelToken)
    yields: bool = False  # long job that lets queued jobs run at its safe points
    # Where the job's outcome goes: the submitter names its own handlers, so no listener has to sort
    # results by kind. Called on the UI thread, only for the newest job of its kind.
    done: Callable[[Any], None] | None = None
    failed: Callable[[str], None] | None = None
    cancelled: Callable[[], None] | None = None
    partial: Callable[[Any], None] | None = None

    def drop_handlers(self) -> None:
        """Once the job has ended: its handlers usually reach the window, and a job kept as the newest
        of its kind must not hold the window in a reference cycle (the cyclic collector may run on a
        worker thread, and Qt objects freed there deadlock against the GUI thread)."""
        self.done = self.failed = self.cancelled = self.partial = None


class JobContext:
    def __init__(self, worker: "_Worker", job: Job):
        self._worker, self._job = worker, job
        self.state = worker.state

    def check(self) -> None:
        if self._job.token.cancelled:
            raise CancelledError("cancelled")

    def sleep(self, seconds: float) -> None:
        """A pause that a cancel interrupts at once (for jobs that wait or poll)."""
        if self._job.token.wait(seconds):
            raise CancelledError("cancelled")

    def progress(self, text: str) -> None:
        self.check()
        self._worker.progressed.emit(self._job.seq, self._job.kind, text)

    def partial(self, obj) -> None:
        self.check()
        self._worker.partial.emit(self._job.seq, self._job.kind, obj)

    def let_others_run(self) -> None:
        """Run the jobs queued on this worker now (call only where the job's state is consistent)."""
        if self._job.yields:
            QCoreApplication.processEvents()


def readable(exc: BaseException) -> str:
    """One line for the user; the traceback goes to the log, never into the window."""
    if isinstance(exc, EclipError):
        return str(exc)
    if isinstance(exc, MemoryError) or "out of memory" in str(exc).lower():
        return "out of memory: try a smaller image or model, or the CPU"
    first = (str(exc).strip().splitlines() or [""])[0][:300]
    return f"unexpected error ({type(exc).__name__}{': ' + first if first else ''}); details are in the log"


class _Worker(QObject):
    started = Signal(int, str, str)
    progressed = Signal(int, str, str)
    partial = Signal(int, str, object)
    finished = Signal(int, str, object)
    failed = Signal(int, str, str)
    cancelled = Signal(int, str)

    def __init__(self, state):
        super().__init__()
        self.state = state
        self._depth = 0  # > 0 while a job runs; > 1 inside a yielding job's let_others_run()
        self._deferred: list[Job] = []

    @Slot(object)
    def run(self, job: Job) -> None:
        if self._depth and job.yields:
            self._deferred.append(job)
            return
        self._depth += 1
        try:
            self._run(job)
        finally:
            self._depth -= 1
        while not self._depth and self._deferred:
            self.run(self._deferred.pop(0))

    def _run(self, job: Job) -> None:
        if job.token.cancelled:
            self.cancelled.emit(job.seq, job.kind)
            return
        self.started.emit(job.seq, job.kind, job.label)
        try:
            result = job.run(JobContext(self, job))
        except CancelledError:
            self.cancelled.emit(job.seq, job.kind)
        except BaseException as exc:  # the thread must survive anything a job does
            if not isinstance(exc, EclipError):
                log.error("job %s failed:\n%s", job.kind, traceback.format_exc())
            self.failed.emit(job.seq, job.kind, readable(exc))
        else:
            if job.token.cancelled:
                self.cancelled.emit(job.seq, job.kind)
            else:
                self.finished.emit(job.seq, job.kind, result)


class JobRunner(QObject):
    """The UI thread's handle on one worker thread."""

    started = Signal(str, str)  # kind, label
    progressed = Signal(str, str)  # kind, text
    partial = Signal(str, object)
    succeeded = Signal(str, object)
    failed = Signal(str, str)  # kind, message
    cancelled = Signal(str)
    busy_changed = Signal(bool)
    _dispatch = Signal(object)

    _seq = itertools.count(1)

    def __init__(self, name: str, state=None, parent: QObject | None = None):
        super().__init__(parent)
        self.name = name
        self._thread = QThread()
        self._thread.setObjectName(f"eclip-{name}")
        self._worker = _Worker(state)
        self._worker.moveToThread(self._thread)
        self._dispatch.connect(self._worker.run)
        self._worker.started.connect(self._on_started)
        self._worker.progressed.connect(self._on_progressed)
        self._worker.partial.connect(self._on_partial)
        self._worker.finished.connect(self._on_finished)
        self._worker.failed.connect(self._on_failed)
        self._worker.cancelled.connect(self._on_cancelled)
        self._latest: dict[str, Job] = {}
        self._outstanding: dict[int, Job] = {}
        self.submitted = 0  # for tests and the status bar: how many jobs were really sent
        self._thread.start()

    @property
    def state(self):
        return self._worker.state

    @property
    def thread(self) -> QThread:
        return self._thread

    def is_busy(self, kind: str | None = None) -> bool:
        return any(kind is None or j.kind == kind for j in self._outstanding.values())

    def submit(self, job: Job) -> int:
        job.seq = next(self._seq)
        previous = self._latest.get(job.kind)
        if previous is not None:
            previous.token.cancel()
        self._latest[job.kind] = job
        was_busy = bool(self._outstanding)
        self._outstanding[job.seq] = job
        self.submitted += 1
        self._dispatch.emit(job)
        if not was_busy:
            self.busy_changed.emit(True)
        return job.seq

    def cancel(self, kind: str | None = None) -> None:
        for job in self._outstanding.values():
            if kind is None or job.kind == kind:
                job.token.cancel()

    def _current(self, seq: int, kind: str) -> bool:
        job = self._latest.get(kind)
        return job is not None and job.seq == seq and not job.token.cancelled

    def _done(self, seq: int) -> None:
        job = self._outstanding.pop(seq, None)
        if job is not None and job is not self._latest.get(job.kind):
            job.drop_handlers()  # superseded: nothing will be told
        if not self._outstanding:
            self.busy_changed.emit(False)

    def _on_started(self, seq: int, kind: str, label: str) -> None:
        if self._current(seq, kind):
            self.started.emit(kind, label)

    def _on_progressed(self, seq: int, kind: str, text: str) -> None:
        if self._current(seq, kind):
            self.progressed.emit(kind, text)

    def _on_partial(self, seq: int, kind: str, obj) -> None:
        if self._current(seq, kind):
            job = self._latest[kind]
            if job.partial is not None:
                job.partial(obj)
            self.partial.emit(kind, obj)

    def _on_finished(self, seq: int, kind: str, result) -> None:
        current = self._current(seq, kind)
        job = self._outstanding.get(seq)
        self._done(seq)
        if current:
            if job is not None and job.done is not None:
                job.done(result)
            self.succeeded.emit(kind, result)
        if job is not None:
            job.drop_handlers()

    def _on_failed(self, seq: int, kind: str, message: str) -> None:
        current = self._current(seq, kind)
        job = self._outstanding.get(seq)
        self._done(seq)
        if current:
            if job is not None and job.failed is not None:
                job.failed(message)
            self.failed.emit(kind, message)
        if job is not None:
            job.drop_handlers()

    def _on_cancelled(self, seq: int, kind: str) -> None:
        job = self._latest.get(kind)
        self._done(seq)
        # A superseded job is cancelled silently; only a cancel of the newest one is news.
        if job is not None and job.seq == seq:
            if job.cancelled is not None:
                job.cancelled()
            job.drop_handlers()
            self.cancelled.emit(kind)

    def shutdown(self, timeout_ms: int = 30_000) -> bool:
        """Cancel everything, stop the thread and wait for it; True when it has stopped."""
        self.cancel()
        for job in [*self._latest.values(), *self._outstanding.values()]:
            job.drop_handlers()
        if not self._thread.isRunning():
            return True
        self._thread.quit()
        stopped = self._thread.wait(timeout_ms)
        if not stopped:
            log.error("worker %s did not stop within %d ms", self.name, timeout_ms)
        return stopped
