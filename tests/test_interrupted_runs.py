"""Interrupted runs (issue 26, item 5): `train` stopped by a signal, a crash or a cancel resumes to the
very weights of an uninterrupted run, on a cached scene set as on fresh scenes; a signal leaves no
worker process behind; training outputs get the user's umask."""
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from safetensors.torch import load_file

from eclip_desktop.core.errors import CancelledError
from eclip_desktop.core.training.trainer import TrainConfig, train

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _cache_env(monkeypatch, tmp_path_factory):
    monkeypatch.setenv("ECLIP_DESKTOP_CACHE", str(tmp_path_factory.getbasetemp() / "interrupted-cache"))


def cfg(out, **kw) -> TrainConfig:
    base = dict(pooling="native", architecture="eclip-tiny-vit", scenes=32, batch_size=8, steps=6, lr=1e-3, warmup=1,
                data_seed=5, device="cpu", out=str(out), checkpoint_every=2)
    base.update(kw)
    return TrainConfig(**base)


def _weights(folder: Path) -> dict:
    return load_file(str(folder / "native.safetensors"))


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(np.array_equal(a[k].numpy(), b[k].numpy()) for k in a)


@pytest.fixture(scope="module")
def whole(tmp_path_factory):
    out = tmp_path_factory.mktemp("whole")
    os.environ["ECLIP_DESKTOP_CACHE"] = str(tmp_path_factory.getbasetemp() / "interrupted-cache")
    train(cfg(out))
    return _weights(out)


def _stop_at(step: int):
    calls = []

    def cancelled():
        calls.append(1)
        return len(calls) == step + 1  # checked at the start of each step
    return cancelled


def test_a_cancelled_run_on_cached_scenes_resumes_to_the_same_weights(whole, tmp_path):
    """Before: the batch generator was seeded afresh at the resumed step, so the resumed run drew other
    batches (weights up to 0.042 away on the issue's run)."""
    with pytest.raises(CancelledError, match="cancelled at step 3"):
        train(cfg(tmp_path), cancelled=_stop_at(3))  # between two periodic checkpoints
    train(replace(cfg(tmp_path), resume=True))
    assert _same(whole, _weights(tmp_path))


def test_a_crash_resumes_from_the_last_periodic_checkpoint_to_the_same_weights(whole, tmp_path):
    """A kill -9 leaves the periodic checkpoint of step 4; what came after it is drawn again, the same."""
    def crash():
        if (tmp_path / "native.ckpt.pt").is_file() and crash.calls >= 5:
            raise KeyboardInterrupt  # nothing saved on the way out: as a kill
        crash.calls += 1
        return False
    crash.calls = 0
    with pytest.raises(KeyboardInterrupt):
        train(cfg(tmp_path), cancelled=crash)
    import torch
    assert torch.load(tmp_path / "native.ckpt.pt", weights_only=True)["step"] == 4
    train(replace(cfg(tmp_path), resume=True))
    assert _same(whole, _weights(tmp_path))


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_training_outputs_get_the_users_umask(umask, tmp_path):
    """The weights were 0600 whatever the umask (safetensors' own writer). In a child started with that
    umask: the tool reads it once, at start."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "ECLIP_DESKTOP_CACHE": str(tmp_path / "cache")}
    cmd = [sys.executable, "-m", "eclip_desktop", "train", "--pooling", "native", "--model", "eclip-tiny-vit",
           "--steps", "1", "--batch-size", "4", "--scenes", "8", "--device", "cpu", "--eval-every", "0",
           "--out", str(tmp_path / "run")]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600, preexec_fn=lambda: os.umask(umask))
    assert proc.returncode == 0, proc.stderr
    for name in ("native.safetensors", "native.json"):
        assert (tmp_path / "run" / name).stat().st_mode & 0o777 == (0o666 & ~umask), name


def _children(pid: int) -> set[int]:
    found = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found |= {int(c) for c in (task / "children").read_text().split()}
        except OSError:
            pass
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads child processes from /proc (Linux)")
@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGINT, signal.SIGKILL])
def test_a_signal_leaves_no_scene_worker_behind(how, tmp_path):
    """`train --fresh-scenes` draws scenes in a worker process; before, SIGTERM left it running (540 MB)."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "ECLIP_DESKTOP_CACHE": str(tmp_path / "cache")}
    cmd = [sys.executable, "-m", "eclip_desktop", "train", "--fresh-scenes", "--pooling", "native", "--model",
           "eclip-tiny-vit", "--steps", "100000", "--batch-size", "4", "--device", "cpu", "--eval-every", "0",
           "--checkpoint-every", "0", "--out", str(tmp_path / "run")]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = proc.stderr.readline()  # the first step's report: the worker is drawing by then
        while line and not line.startswith("step "):
            line = proc.stderr.readline()
        assert line.startswith("step "), proc.stderr.read()
        workers = _children(proc.pid)
        assert workers, "no scene worker process found"
        proc.send_signal(how)
        rc = proc.wait(timeout=300)
        rest = proc.stderr.read()
        deadline = time.monotonic() + 60  # the kernel's parent-death signal; a generous bound for a loaded machine
        while any(_alive(w) for w in workers) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not any(_alive(w) for w in workers), "a scene worker outlived train"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if how == signal.SIGKILL:
        assert rc == -signal.SIGKILL
        return
    assert rc == 130 and "Traceback" not in rest, rest
    assert "a checkpoint was written" in rest and (tmp_path / "run" / "native.ckpt.pt").is_file()


# --- two exports into one folder -------------------------------------------------------------------------

HOLD = ("import sys\nfrom eclip_desktop.core.export.lock import export_lock\n"
        "with export_lock(sys.argv[1]):\n    print('held', flush=True)\n    sys.stdin.read()\n")


def _holder(out: Path) -> subprocess.Popen:
    """Another process holding `out` as an export does while it runs."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(out)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True, env=env)
    assert proc.stdout.readline().strip() == "held"
    return proc


def _export(out: Path, image: str, capsys) -> tuple[int, str]:
    from eclip_desktop.cli import main
    capsys.readouterr()
    rc = main(["export", "--images", image, "--text", "a cat", "--out", str(out), "--model", "eclip-tiny-vit",
               "--pretrained", "random", "--device", "cpu"])
    return rc, capsys.readouterr().err


def test_a_second_export_into_a_folder_in_use_refuses_naming_the_holder(tmp_path, capsys):
    from tests.conftest import write_image
    from tests.test_bad_inputs import check_one_line, snapshot
    image = write_image(tmp_path / "a.png", w=64, h=48, seed=1)
    out = tmp_path / "o"
    holder = _holder(out)
    try:
        before = snapshot(out)
        rc, err = _export(out, image, capsys)
        check_one_line(rc, err, rf"the export folder .*/o is in use by another export \(pid {holder.pid} on .+, started "
                                r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\); wait for it to finish, or choose another --out")
        assert snapshot(out) == before  # no index, no map: the holder's rows are its own
    finally:
        holder.stdin.close()
        holder.wait(timeout=60)
    assert not (out / ".eclip-export.lock").exists()  # a holder that ends removes its lock
    rc, err = _export(out, image, capsys)
    assert rc == 0, err


def test_a_lock_left_by_a_killed_export_is_taken_over(tmp_path, capsys):
    import json

    from tests.conftest import write_image
    image = write_image(tmp_path / "a.png", w=64, h=48, seed=1)
    out = tmp_path / "o"
    holder = _holder(out)
    holder.kill()  # kill -9: the lock file stays, the kernel drops the lock itself
    holder.wait(timeout=60)
    assert (out / ".eclip-export.lock").is_file()
    rc, err = _export(out, image, capsys)
    assert rc == 0, err
    assert f"lock was left by pid {holder.pid} on" in err and "which is no longer running; taken over" in err
    rows = json.loads((out / "index.json").read_text())["rows"]
    assert len(rows) == len({r["name"] for r in rows}) == 2 and not (out / ".eclip-export.lock").exists()
