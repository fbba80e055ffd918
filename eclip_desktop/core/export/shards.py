"""Batch work split across the processes of a `torchrun` launch (docs/SCALE.md).

Each rank takes the images whose SHA-256 falls on it (`owns`): the split depends on the content
and the world size only, so an image lands on the same rank whatever list or order it comes in,
and a resumed run with another world size re-triages every row on disk anyway (export's resume).
Ranks talk through torchrun's key-value store while they work (a shared progress counter, a
heartbeat, the first failure) and through one collective at the end (the results, gathered), which
runs only once every rank has arrived: a rank that failed or stopped beating ends the wait with its
rank named instead of a hang until the collective's own timeout.
"""
from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Callable

from eclip_desktop.core.errors import EclipError, ShardError

# Generous: the collectives run once every rank has arrived (wait_all), so they only wait for data.
COLLECTIVE_TIMEOUT_S = float(os.environ.get("ECLIP_SHARD_TIMEOUT", "600"))
# A rank whose heartbeat has not moved for this long is taken for dead (a node lost, kill -9 on
# another node; on one node torchrun itself stops the others when a worker dies).
STALL_S = float(os.environ.get("ECLIP_SHARD_STALL", "120"))
BEAT_S = 2.0


def shard_of(sha256: str, world: int) -> int:
    """The rank that owns an image: its SHA-256 (hex) modulo the world size. An image that cannot
    be read has no hash; the caller passes its path instead, so it fails on exactly one rank."""
    if world <= 1:
        return 0
    try:
        return int(sha256[:16], 16) % world
    except ValueError:
        import hashlib
        return int(hashlib.sha256(sha256.encode("utf-8", "surrogateescape")).hexdigest()[:16], 16) % world


def split(keys: list[str], world: int) -> list[list[int]]:
    """Indices of `keys` per rank, each in the list's own order; every index in exactly one shard."""
    shards: list[list[int]] = [[] for _ in range(max(world, 1))]
    for i, k in enumerate(keys):
        shards[shard_of(k, world)].append(i)
    return shards


@dataclass
class Shard:
    """This process's part of the job. The default is the whole job in one process: every method
    then does nothing, so callers need no second code path."""
    rank: int = 0
    world: int = 1
    local_rank: int = 0
    device: str = "auto"  # the device this rank works on (cuda:LOCAL_RANK on GPUs)
    _store: object | None = field(default=None, repr=False)
    _seen: dict = field(default_factory=dict, repr=False)
    _calls: int = 0
    _stop_beat: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def sharded(self) -> bool:
        return self.world > 1

    @property
    def leader(self) -> bool:
        return self.rank == 0

    def owns(self, key: str) -> bool:
        return shard_of(key, self.world) == self.rank

    def where(self) -> str:
        return f"rank {self.rank} of {self.world}"

    # ------------------------------------------------------------------ store: progress, failure

    def add_done(self, n: int = 1) -> int:
        """Counts finished work units for the whole job; returns the job's total so far."""
        return int(self._store.add("done", n)) if self.sharded else n

    def done(self) -> int:
        return int(self._store.add("done", 0)) if self.sharded else 0

    def fail(self, message: str) -> None:
        """Tells the other ranks this one failed (the first failure is the one kept)."""
        if self.sharded and self._store is not None:
            try:
                if not self._store.check(["failed"]):
                    self._store.set("failed", f"{self.where()}: {message}")
            except Exception:  # noqa: BLE001 (the store may be gone with the job; our own error is what counts)
                pass

    def failure(self) -> str | None:
        """The first failure of another rank, if any (cheap: one store round trip)."""
        if not self.sharded or not self._store.check(["failed"]):
            return None
        return self._store.get("failed").decode("utf-8", "replace")

    def _beat(self) -> None:
        while not self._stop_beat.wait(BEAT_S):
            try:
                self._store.add(f"beat/{self.rank}", 1)
            except Exception:  # noqa: BLE001 (the store's host is gone: the waits report it)
                return

    def _stalled(self) -> int | None:
        now = time.monotonic()
        for r in range(self.world):
            beats = int(self._store.add(f"beat/{r}", 0))
            last = self._seen.get(r)
            if last is None or last[0] != beats:
                self._seen[r] = (beats, now)
            elif now - last[1] > STALL_S:
                return r
        return None

    def wait_all(self, tag: str, on_tick: Callable[[], None] | None = None, poll_s: float = 0.2) -> None:
        """Returns once every rank has called wait_all(tag); raises ShardError naming the rank when
        another rank failed or stopped beating first. on_tick runs between polls (progress lines)."""
        if not self.sharded:
            return
        self._store.add(f"arrived/{tag}", 1)
        while int(self._store.add(f"arrived/{tag}", 0)) < self.world:
            failed = self.failure()
            if failed:
                raise ShardError(f"{failed} (stopped {self.where()})")
            dead = self._stalled()
            if dead is not None:
                raise ShardError(f"rank {dead} of {self.world} stopped answering for {STALL_S:.0f} s "
                                 f"(stopped {self.where()})")
            if on_tick:
                on_tick()
            time.sleep(poll_s)

    # ------------------------------------------------------------------ collective

    def gather(self, obj) -> list:
        """Every rank's obj, in rank order, on every rank (call after wait_all)."""
        if not self.sharded:
            return [obj]
        import torch.distributed as dist
        out: list = [None] * self.world
        try:
            dist.all_gather_object(out, obj)
        except RuntimeError as exc:
            raise ShardError(f"{self.where()}: gathering the results failed ({str(exc).splitlines()[0][:200]})") from None
        return out

    def collect(self, records: list[tuple[int, object]], tag: str) -> list:
        """Every rank's (index, record) pairs, merged in index order: the one-process order of the work
        list, so a reduction over them adds in the same order as one process does."""
        if not self.sharded:
            return [rec for _, rec in sorted(records, key=lambda p: p[0])]
        self._calls += 1
        self.wait_all(f"{tag}-{self._calls}")
        return [rec for _, rec in sorted((p for part in self.gather(records) for p in part), key=lambda p: p[0])]

    def close(self) -> None:
        self._stop_beat.set()
        if self.sharded:
            import torch.distributed as dist
            if dist.is_initialized():
                dist.destroy_process_group()


def torchrun_env() -> tuple[int, int, int]:
    """(rank, world size, local rank) from the variables torchrun sets; (0, 1, 0) outside it."""
    try:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        rank = int(os.environ.get("RANK", "0"))
        local = int(os.environ.get("LOCAL_RANK", "0"))
    except ValueError as exc:
        raise ShardError(f"torchrun's WORLD_SIZE, RANK and LOCAL_RANK must be integers ({exc})") from None
    if world < 1 or not 0 <= rank < world or local < 0:
        raise ShardError(f"RANK {rank} / WORLD_SIZE {world} / LOCAL_RANK {local} do not describe a job")
    return rank, world, local


def shard_device(name: str, shard: Shard) -> str:
    """The device asked for; on GPUs under torchrun, this rank's own GPU (cuda:LOCAL_RANK)."""
    if not shard.sharded or not (name or "auto").startswith(("auto", "cuda")):
        return name
    import torch
    if not torch.cuda.is_available():
        return name
    if (name or "").startswith("cuda:"):  # a GPU named by the user: every rank on it, as asked
        return name
    count = torch.cuda.device_count()
    if shard.local_rank >= count:
        raise ShardError(f"{shard.where()}: LOCAL_RANK {shard.local_rank} but this node has {count} GPU(s); "
                         f"start at most {count} processes per node (--nproc_per_node)")
    torch.cuda.set_device(shard.local_rank)
    return f"cuda:{shard.local_rank}"


def join_shards(device: str = "auto") -> Shard:
    """This process's Shard: the whole job outside torchrun; under torchrun, joins the process group
    (gloo, with a timeout) and torchrun's store, and picks this rank's GPU."""
    rank, world, local = torchrun_env()
    if world == 1:
        return Shard(device=device)
    import torch.distributed as dist
    shard = Shard(rank, world, local)
    shard.device = device = shard_device(device, shard)
    addr, port = os.environ.get("MASTER_ADDR"), os.environ.get("MASTER_PORT")
    if not addr or not port:
        raise ShardError("WORLD_SIZE > 1 but MASTER_ADDR/MASTER_PORT are not set: start the job with torchrun "
                         "(docs/SCALE.md)")
    timeout = timedelta(seconds=COLLECTIVE_TIMEOUT_S)
    try:
        if not dist.is_initialized():
            # gloo on GPUs too: the group only gathers a few KB of results per pass, and gloo needs no
            # per-rank CUDA device for that nor NCCL's asynchronous error handling to honour the timeout.
            dist.init_process_group("gloo", timeout=timeout)
        store = dist.TCPStore(addr, int(port), is_master=False, timeout=timeout)
    except (RuntimeError, ValueError) as exc:
        raise ShardError(f"{shard.where()}: could not join the job ({str(exc).splitlines()[0][:200]})") from None
    # Keys of this launch only: torchrun restarts (--max-restarts) start a fresh count.
    shard._store = dist.PrefixStore(f"eclip-shards/{os.environ.get('TORCHELASTIC_RESTART_COUNT', '0')}/", store)
    threading.Thread(target=shard._beat, name="shard-heartbeat", daemon=True).start()
    return shard


def merge_rows(shard: Shard, rows: list, owned: set[str], cancelled: bool,
               progress: Callable[[dict], None] | None = None) -> bool:
    """Export's end under torchrun: waits for every rank (rank 0 reporting the job's progress while
    it waits), then gives every rank the status of every row, each row from the rank that owns its
    image. Returns whether any rank was cancelled (the index then says unfinished)."""
    total = len({r.image for r in rows})
    shown = [shard.done()]

    def tick():
        done = shard.done()
        if progress and shard.leader and done != shown[0]:
            shown[0] = done
            progress({"done": done, "total": total, "image": None, "written": 0, "skipped": 0, "failed": 0,
                      "seconds": 0.0, "eta_s": None})

    shard.wait_all("export", on_tick=tick)
    tick()  # the last rank's last image, counted after the final poll
    # Whole rows: every field a rank may set (status, error, what the sidecar said) comes across.
    mine = [(i, dict(vars(r))) for i, r in enumerate(rows) if r.image in owned]
    parts = shard.gather((cancelled, mine))
    for _, part in parts:
        for i, fields in part:
            vars(rows[i]).update(fields)
    return any(c for c, _ in parts)


def run_sharded(device: str, work: Callable[[Shard], int]) -> int:
    """A command's work under torchrun or not: joins the job, runs work(shard), and turns this rank's
    error into one line that names it (telling the other ranks, which then stop and name it too)."""
    shard = join_shards(device)
    try:
        return work(shard)
    except ShardError as exc:
        shard.fail(str(exc))
        raise
    except EclipError as exc:
        if not shard.sharded:
            raise
        shard.fail(str(exc))
        raise ShardError(f"{shard.where()}: {exc}") from None
    finally:
        shard.close()
