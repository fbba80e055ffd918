"""Batch commands split across torchrun processes (core/export/shards.py, docs/SCALE.md): the split,
the ranks' waits, and two-process gloo runs of `export` and `eval` against one process."""
import csv
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import write_image

from eclip_desktop.cli import main
from eclip_desktop.core.errors import ShardError
from eclip_desktop.core.export import shards
from eclip_desktop.core.export.shards import Shard, shard_of, split

REPO = Path(__file__).resolve().parents[1]


def _sha(i: int) -> str:
    return hashlib.sha256(str(i).encode()).hexdigest()


# ----------------------------------------------------------------------------- the split


def test_split_covers_every_item_once_and_follows_content():
    keys = [_sha(i) for i in range(400)]
    for world in (1, 2, 3, 8):
        parts = split(keys, world)
        assert len(parts) == world
        assert sorted(i for p in parts for i in p) == list(range(len(keys)))  # each once
        assert all(p == sorted(p) for p in parts)  # the list's own order within a shard
        assert split(keys, world) == parts  # deterministic
        # By content: an image keeps its rank in another list, order or company.
        moved = keys[::-1][:150]
        assert all(shard_of(k, world) == next(r for r, p in enumerate(parts) if keys.index(k) in p) for k in moved)
        if world > 1:
            assert min(map(len, parts)) > len(keys) / world * 0.6  # no rank starves
    assert split(keys, 1) == [list(range(len(keys)))]
    # An unreadable image has no hash: its path stands in, still one rank, the same each time.
    assert shard_of("missing.png", 4) == shard_of("missing.png", 4) in range(4)


def test_one_process_shard_is_the_whole_job():
    s = Shard()
    assert not s.sharded and s.leader and all(s.owns(_sha(i)) for i in range(20))
    s.wait_all("x")  # nothing to wait for
    assert s.collect([(2, "c"), (0, "a"), (1, "b")], "t") == ["a", "b", "c"]
    assert s.failure() is None and s.add_done() == 1
    s.fail("ignored")
    s.close()


def test_torchrun_environment_is_read_or_refused_in_one_line(monkeypatch):
    from eclip_desktop.core.export.shards import join_shards, torchrun_env
    for var in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(var, raising=False)
    one = join_shards("cpu")
    assert torchrun_env() == (0, 1, 0) and not one.sharded and one.device == "cpu"
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "2")
    with pytest.raises(ShardError, match="do not describe a job"):
        torchrun_env()
    monkeypatch.setenv("RANK", "x")
    with pytest.raises(ShardError, match="must be integers"):
        torchrun_env()
    monkeypatch.setenv("RANK", "1")
    with pytest.raises(ShardError, match="start the job with torchrun"):
        join_shards("cpu")  # WORLD_SIZE without the rendezvous torchrun sets


class _Store:
    """The part of torch's key-value store the shards use, in memory."""

    def __init__(self):
        self.data = {}

    def add(self, key, n):
        self.data[key] = int(self.data.get(key, 0)) + n
        return self.data[key]

    def set(self, key, value):
        self.data[key] = value.encode() if isinstance(value, str) else value

    def get(self, key):
        return self.data[key]

    def check(self, keys):
        return all(k in self.data for k in keys)


def test_a_failed_rank_ends_the_others_wait_with_its_name():
    store = _Store()
    r0, r1 = Shard(0, 2, _store=store), Shard(1, 2, _store=store)
    r1.fail("cannot write x.npy: it is a directory")
    r0.fail("a later failure is not the one reported")
    with pytest.raises(ShardError, match=r"^rank 1 of 2: cannot write x\.npy: it is a directory \(stopped rank 0 of 2\)$"):
        r0.wait_all("end", poll_s=0.01)


def test_a_silent_rank_ends_the_others_wait(monkeypatch):
    monkeypatch.setattr(shards, "STALL_S", 0.2)
    store = _Store()
    r0 = Shard(0, 2, _store=store)
    t0 = time.monotonic()
    with pytest.raises(ShardError, match=r"^rank 1 of 2 stopped answering"):
        r0.wait_all("end", on_tick=lambda: store.add("beat/0", 1), poll_s=0.01)  # rank 0 beats, rank 1 never
    assert time.monotonic() - t0 < 30


def test_ranks_that_all_arrive_pass_and_count_the_job():
    store = _Store()
    r0, r1 = Shard(0, 2, _store=store), Shard(1, 2, _store=store)
    store.add("arrived/end", 1)  # rank 1 is there first
    r0.wait_all("end", poll_s=0.01)
    assert r0.add_done(3) == 3 and r1.add_done() == 4 and r0.done() == 4


# ----------------------------------------------------------------------------- torchrun, two processes


def _env():
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    for var in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT", "LOCAL_WORLD_SIZE"):
        env.pop(var, None)
    return env


def _torchrun(args, cwd, **kw):
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "-m", "eclip_desktop", *args]
    return subprocess.Popen(cmd, env=_env(), cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


@pytest.fixture(scope="module")
def job(tmp_path_factory):
    """Images, one weights file (random weights are drawn anew in each process), and the export of
    one process to compare against."""
    import torch
    from safetensors.torch import save_file

    from eclip_desktop.core.model.loading import ModelSpec, load_model
    base = tmp_path_factory.mktemp("shards")
    images = base / "images"
    images.mkdir()
    for i in range(16):
        write_image(images / f"im{i:02d}.png", w=64 + 8 * (i % 3), h=56, seed=i)
    torch.manual_seed(0)
    handle = load_model(ModelSpec("eclip-tiny-vit", "random", "cpu"))
    weights = base / "vit.safetensors"
    save_file({k: v.contiguous() for k, v in handle.model.state_dict().items()}, str(weights))
    model = ["--model", "eclip-tiny-vit", "--pretrained", str(weights), "--device", "cpu"]
    export = ["export", "--images", str(images), "--text", "a cat", "--text", "a dog", "--text", "a red square",
              "--method", "itsm", "--method", "surgery", "--grid", "method", *model]
    assert main([*export, "--out", str(base / "one")]) == 0
    return {"base": base, "images": images, "model": model, "export": export, "one": base / "one"}


def _index(out: Path) -> list[dict]:
    with open(out / "index.csv", newline="") as f:
        return list(csv.DictReader(f))


def _same_outputs(a: Path, b: Path) -> None:
    """Maps byte for byte, sidecars field for field (timings aside), over every row of a's index."""
    rows = _index(a)
    assert rows and all(r["status"] == "ok" for r in rows)
    for r in rows:
        for name in r["files"].split(";"):
            if name.endswith(".npy"):
                assert (a / name).read_bytes() == (b / name).read_bytes(), name
            elif name.endswith(".json"):
                x, y = (json.loads((d / name).read_text()) for d in (a, b))
                for meta in (x, y):
                    meta.pop("timings", None)
                    meta.pop("created", None)
                assert x == y, name


@pytest.mark.slow
def test_two_processes_export_and_eval_as_one(job, tmp_path):
    proc = _torchrun([*job["export"], "--out", str(tmp_path / "two")], tmp_path)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-3000:]
    two = tmp_path / "two"
    assert _index(two) == _index(job["one"])  # the merged index: the same rows in the same order
    assert json.loads((two / "index.json").read_text())["summary"]["finished"] is True
    _same_outputs(job["one"], two)
    assert sum("maps written" in line for line in err.splitlines()) == 1  # rank 0 reports, once
    progress = [line for line in err.splitlines() if line.startswith("[")]
    assert progress and all(line.split("]")[0].endswith("/16") for line in progress)  # the job's count
    assert progress[-1].startswith("[16/16]")

    # eval: the same table from two processes as from one (faithfulness too: per-pair curves gathered).
    # 150 scenes are three encoder batches of 64, the unit eval splits: ranks 0, 0, 1 for the maps and
    # 0, 1, 0 for zero-shot.
    ev = ["eval", "--dataset", "shapes:150", "--faithfulness", "--faithfulness-steps", "2", *job["model"]]
    assert main([*ev, "--json", str(tmp_path / "one.json")]) == 0
    proc = _torchrun([*ev, "--json", str(tmp_path / "two.json")], tmp_path)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-3000:]
    one, two = (json.loads((tmp_path / f"{n}.json").read_text()) for n in ("one", "two"))
    for result in (one, two):
        for row in result["rows"]:
            row.pop("seconds")
    differs = {k: (v, two["rows"][0].get(k)) for k, v in one["rows"][0].items() if two["rows"][0].get(k) != v}
    assert not differs and one == two and one["rows"][0]["n"] > 150, differs
    assert out.count("miou_fg") == 1  # one table


def _rank_pid(parent: int, rank: int) -> int | None:
    """The worker of `rank` among the launcher's children (by the RANK torchrun gave it)."""
    try:
        children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
    except OSError:
        return None
    for pid in children:
        try:
            env = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if f"RANK={rank}".encode() in env:
            return int(pid)
    return None


def _maps_of(out: Path, stems) -> int:
    """Sidecars written so far for the images of `stems`."""
    return sum(1 for p in out.glob("*.json") if p.name.split("__")[0] in stems) if out.is_dir() else 0


def _wait_for(proc, ready, seconds=240) -> bool:
    deadline = time.monotonic() + seconds
    while proc.poll() is None and time.monotonic() < deadline:
        if ready():
            return True
        time.sleep(0.02)
    return False


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="finds the rank's process through /proc")
def test_stopped_runs_resume_across_world_sizes(job, tmp_path):
    """Ctrl+C of a 2-process run, then kill -9 of one rank of the next, then one process: the output is
    that of one uninterrupted process, every row once."""
    from eclip_desktop.core.io.imageio import image_sha256
    out = tmp_path / "out"
    owner = {p.stem: shard_of(image_sha256(p), 2) for p in job["images"].iterdir()}
    rank0, rank1 = ({s for s, r in owner.items() if r == k} for k in (0, 1))
    assert len(rank0) >= 3 and len(rank1) >= 3

    # Ctrl+C (SIGINT to the whole process group, as a terminal sends it) once both ranks have written.
    proc = _torchrun([*job["export"], "--out", str(out)], tmp_path, start_new_session=True)
    assert _wait_for(proc, lambda: _maps_of(out, rank0) and _maps_of(out, rank1))
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode != 0
    assert err.count("interrupted; run the same command again to resume") == 1, err[-3000:]
    assert err.count("stopping after this image") == 1
    index = json.loads((out / "index.json").read_text())
    assert index["summary"]["finished"] is False
    ok = {Path(r["image"]).stem for r in index["rows"] if r["status"] == "ok"}
    assert ok & rank0 and ok & rank1 and ok != set(owner)  # both ranks' rows merged; work left

    # Resumed with two processes, rank 1 killed (kill -9: no clean-up at all) as soon as it writes.
    before = _maps_of(out, rank1)
    proc = _torchrun([*job["export"], "--out", str(out)], tmp_path)
    killed = False
    if _wait_for(proc, lambda: _maps_of(out, rank1) > before):
        pid = _rank_pid(proc.pid, 1)
        if pid:
            os.kill(pid, signal.SIGKILL)
            killed = True
    _, err = proc.communicate(timeout=120)  # torchrun stops rank 0 too, within its monitor interval
    assert killed and proc.returncode != 0, err[-3000:]
    assert _maps_of(out, rank1) < len(rank1) * 8, "rank 1 finished before it was killed"

    assert main([*job["export"], "--out", str(out)]) == 0  # resumed with one process
    rows = _index(out)
    assert [r["name"] for r in rows] == [r["name"] for r in _index(job["one"])]  # every row once, in order
    assert {r["status"] for r in rows} == {"ok", "skipped"}  # nothing failed, nothing redone that was complete
    assert json.loads((out / "index.json").read_text())["summary"]["finished"] is True
    _same_outputs(job["one"], out)


@pytest.mark.slow
def test_a_rank_that_fails_ends_the_run_naming_it(job, tmp_path):
    from eclip_desktop.core.io.imageio import image_sha256
    out = tmp_path / "out"
    victim = next(p.stem for p in sorted(job["images"].iterdir()) if shard_of(image_sha256(p), 2) == 1)
    (out / f"{victim}__itsm__native__a-cat.npy" / "x").mkdir(parents=True)  # a directory where a map goes
    t0 = time.monotonic()
    proc = _torchrun([*job["export"], "--out", str(out)], tmp_path)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode != 0
    assert time.monotonic() - t0 < 200
    assert f"eclip-desktop: error: rank 1 of 2: cannot write {out}/{victim}__itsm__native__a-cat.npy" in err, err[-3000:]


# ----------------------------------------------------------------------------- eval's reduction, in threads


class _ThreadShard(Shard):
    """A rank of a job whose ranks are threads of this process: wait_all and gather through a barrier."""

    def __init__(self, rank, world, barrier, board):
        super().__init__(rank, world)
        self.barrier, self.board = barrier, board

    def wait_all(self, tag, on_tick=None, poll_s=0.2):
        self.barrier.wait(timeout=120)

    def gather(self, obj):
        self.board[self.rank] = obj
        self.barrier.wait(timeout=120)
        out = list(self.board)
        self.barrier.wait(timeout=120)  # every rank has read before the next gather writes
        return out


def _on_ranks(world, fn):
    import threading
    barrier, board, results = threading.Barrier(world), [None] * world, [None] * world

    def run(r):
        results[r] = fn(_ThreadShard(r, world, barrier, board))

    threads = [threading.Thread(target=run, args=(r,)) for r in range(world)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    return results


def test_eval_sums_over_ranks_are_those_of_one_process(tiny_handles):
    """Three ranks, batches of 4 (the unit eval splits): the same metrics, faithfulness and zero-shot as
    one process, to the last bit, on every rank."""
    from eclip_desktop.core.evaluation.evaluate import evaluate_maps, shapes_items, zero_shot_accuracy
    from eclip_desktop.core.explain.engine import Engine
    from eclip_desktop.core.shapes import class_names
    handle = tiny_handles["eclip-tiny-vit"]
    classes = class_names()
    size = handle.image_size

    def job(shard):
        engine = Engine(handle)
        maps = evaluate_maps(engine, shapes_items(22, 1000, size), classes, "itsm", batch=4,
                             faithfulness={"poolings": ["native"], "steps": 2}, shard=shard)
        zs = zero_shot_accuracy(engine, shapes_items(22, 1001, size, n_objects=(1, 1)), classes, "native", batch=4,
                                shard=shard)
        return maps, zs

    one = job(None)
    split = _on_ranks(3, job)
    assert all(result == one for result in split), (one, split)
    assert one[0]["n"] > 22


def test_eval_on_a_dataset_on_disk_decodes_each_image_on_its_rank_only(tiny_handles, tmp_path, monkeypatch):
    import threading

    from eclip_desktop.core.evaluation import evaluate
    from eclip_desktop.core.evaluation.datasets.voc import load_voc
    from eclip_desktop.core.explain.engine import Engine
    from eclip_desktop.core.shapes.writer import write_voc
    handle = tiny_handles["eclip-tiny-vit"]
    write_voc(tmp_path, seed=3, count=18, size=48, split="val")
    data = load_voc(tmp_path, split="val")
    decoded, lock, real = [], threading.Lock(), evaluate.load_image

    def counted(path):
        with lock:
            decoded.append(path)
        return real(path)

    monkeypatch.setattr(evaluate, "load_image", counted)

    def job(shard):
        engine = Engine(handle)
        maps = evaluate.evaluate_maps(engine, evaluate.dataset_items(data), list(data.class_names), "itsm",
                                      batch=4, shard=shard)
        return maps, evaluate.zero_shot_accuracy(engine, evaluate.dataset_items(data), list(data.class_names),
                                                 "native", batch=4, shard=shard)

    one = job(None)
    assert len(decoded) == 2 * len(data)
    decoded.clear()
    assert _on_ranks(3, job) == [one] * 3
    assert sorted(decoded) == sorted(2 * [s.image_path for s in data])  # each image decoded once per pass
