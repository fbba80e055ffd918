"""packaging/bootstrap.sh refuses a first install on a nearly full disk before touching anything."""
import os
import shutil
import subprocess
from pathlib import Path

import pytest

BOOTSTRAP = Path(__file__).resolve().parents[1] / "packaging" / "bootstrap.sh"


def _run(tmp_path: Path, min_free_gb: str) -> subprocess.CompletedProcess:
    (tmp_path / "packaging").mkdir()
    shutil.copy(BOOTSTRAP, tmp_path / "packaging" / "bootstrap.sh")
    env = dict(os.environ, ECLIP_MIN_FREE_GB=min_free_gb, TMPDIR=str(tmp_path),
               PYTHON="/nonexistent/python")  # never reached when the check refuses
    return subprocess.run(["bash", str(tmp_path / "packaging" / "bootstrap.sh")], env=env,
                          capture_output=True, text=True, timeout=60)


@pytest.mark.skipif(shutil.which("df") is None, reason="needs df")
def test_a_full_disk_is_refused_before_anything_is_installed(tmp_path):
    result = _run(tmp_path, "100000000")  # 100 PB: no disk has that free
    assert result.returncode == 1
    assert "GB free" in result.stderr and "ECLIP_MIN_FREE_GB=0" in result.stderr
    assert not (tmp_path / ".venv").exists()


@pytest.mark.skipif(shutil.which("df") is None, reason="needs df")
def test_enough_room_gets_past_the_check(tmp_path):
    # With the check passed the script goes on to create the venv, which fails on the
    # nonexistent interpreter: proof it got beyond the disk check.
    result = _run(tmp_path, "0")
    assert "GB free" not in result.stderr
    assert result.returncode != 0
    assert "/nonexistent/python" in result.stderr
