"""`reproduce` for ConVis sidecars (core/export/reproduce_convis.py): the sidecar's synset, windows,
noise seed and concept set recompute the map; a changed seed fails the check."""
import json
from pathlib import Path

import pytest

from eclip_desktop.cli import main
from tests.conftest import write_image

SYSTEM = Path("/usr/share/wordnet")
pytestmark = pytest.mark.skipif(not (SYSTEM / "data.noun").is_file() or not (SYSTEM / "index.sense").is_file(),
                                reason="needs Debian's wordnet-base and wordnet-sense-index")


@pytest.fixture
def wn(wn_env, monkeypatch):
    base, _ = wn_env
    monkeypatch.setenv("ECLIP_DESKTOP_DATA", str(base / "data"))
    monkeypatch.setenv("ECLIP_DESKTOP_CACHE", str(base / "cache"))


def test_a_convis_map_reproduces_and_a_changed_seed_does_not(wn, saved_tiny, tmp_path, capsys):
    img = write_image(tmp_path / "scene.png", w=90, h=70)
    out = tmp_path / "out"
    rc = main(["concepts", img, "--synset", "circle", "--concept-set", "shapes", "--seed", "3", "--out", str(out),
               "--model", "eclip-tiny-vit", "--pretrained", saved_tiny, "--device", "cpu"])
    assert rc == 0, capsys.readouterr().err
    sidecar = out / "scene__convis__circle.n.01.json"
    meta = json.loads(sidecar.read_text())
    assert meta["algorithm"]["seed"] == 3 and meta["concept_set"]["spec"] == "shapes" and meta["synset"] == "circle.n.01"
    capsys.readouterr()
    assert main(["reproduce", str(sidecar), "--check"]) == 0
    assert "max |difference|" in capsys.readouterr().out

    meta["algorithm"]["seed"] = 4  # another noise border: another map
    sidecar.write_text(json.dumps(meta))
    assert main(["reproduce", str(sidecar), "--check"]) == 1
    assert "differs" in capsys.readouterr().err


@pytest.mark.parametrize("field, value, words", [
    ("algorithm", None, "field 'algorithm' is missing"),
    ("algorithm", {"stride": "8"}, "algorithm.stride"),
    ("algorithm", {"stride": 1, "windows": [8]}, "windows (at most"),
    ("concept_set", {"name": "shapes"}, "content hash"),
    ("synset", "", "field 'synset'"),
])
def test_a_bad_convis_sidecar_is_one_line(wn, tmp_path, capsys, field, value, words):
    img = write_image(tmp_path / "a.png")
    meta = {"image": img, "model": "eclip-tiny-vit", "pretrained": "x.safetensors", "method": "convis",
            "synset": "circle.n.01", "algorithm": {"seed": 0}, "concept_set": {"spec": "shapes", "hash": "0" * 40}}
    meta[field] = value
    path = tmp_path / "a__convis__circle.n.01.json"
    path.write_text(json.dumps(meta))
    assert main(["reproduce", str(path)]) == 1
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
