"""scripts/family_figure.py: the semantic-shift figure, for the family or any siblings."""
from __future__ import annotations

import pytest
from conftest import load_script
from PIL import Image
from safetensors.torch import save_file


def _script():
    return load_script("family_figure")


@pytest.fixture()
def vit_weights(tmp_path, tiny_handles):
    path = tmp_path / "tiny.safetensors"
    save_file({k: v.contiguous() for k, v in tiny_handles["eclip-tiny-vit"].model.state_dict().items()}, str(path))
    return path


def test_siblings_figure_has_one_column_per_model(tmp_path, vit_weights):
    fig = _script()
    one, two = tmp_path / "one.png", tmp_path / "two.png"
    base = ["--scenes", "0", "1", "--size", "64"]
    assert fig.main(["--out", str(one), *base, "--sibling", f"native=eclip-tiny-vit:{vit_weights}"]) == 0
    assert fig.main(["--out", str(two), *base, "--sibling", f"native=eclip-tiny-vit:{vit_weights}",
                     "--sibling", f"masked_max=eclip-tiny-vit:{vit_weights}"]) == 0
    w1, h1 = Image.open(one).size
    w2, h2 = Image.open(two).size
    assert w2 > w1 and w2 / h2 > w1 / h1  # a second sibling adds a column, not a row


def test_bad_siblings_are_refused(tmp_path, vit_weights, capsys):
    fig = _script()
    out = tmp_path / "x.png"
    with pytest.raises(SystemExit) as exc:
        fig.main(["--out", str(out), "--sibling", f"bogus=eclip-tiny-vit:{vit_weights}"])
    assert exc.value.code == 2 and "POOLING=ARCHITECTURE:WEIGHTS" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        fig.main(["--out", str(out), "--sibling", f"native=eclip-tiny-vit:{vit_weights}",
                  "--sibling", f"native=eclip-tiny-vit:{vit_weights}"])
    assert "given twice" in capsys.readouterr().err
    assert fig.main(["--out", str(out), "--sibling", f"native=eclip-tiny-vit:{tmp_path / 'nope.safetensors'}"]) == 1
    assert "does not exist" in capsys.readouterr().err
    assert not out.exists()


def test_a_family_folder_gives_one_column_per_sibling(tmp_path, trained_family_dir, capsys):
    fig = _script()
    out = tmp_path / "family.png"
    base = ["--scenes", "0", "--size", "64"]
    assert fig.main(["--out", str(out), *base, "--family", str(trained_family_dir)]) == 0
    w, h = Image.open(out).size
    # The scene and two sibling columns side by side (one sibling would be about as wide as tall):
    # at this small tile size the captions wrap onto three lines, never cut, so the figure is taller.
    assert w > 1.3 * h
    before = out.read_bytes()
    assert fig.main(["--out", str(out), *base, "--family", str(trained_family_dir)]) == 1  # exists
    assert "--overwrite" in capsys.readouterr().err and out.read_bytes() == before
    assert fig.main(["--out", str(out), *base, "--family", str(trained_family_dir), "--overwrite"]) == 0
    assert fig.main(["--out", str(tmp_path / "x.png"), *base, "--family", str(tmp_path)]) == 1
    assert "is not a family folder" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        fig.main(["--out", str(out), "--family", str(trained_family_dir), "--sibling", "native=a:b"])
    assert "one or the other" in capsys.readouterr().err
