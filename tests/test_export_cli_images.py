"""`export --images` with several values: what a shell-expanded `--images photos/*.jpg` passes."""
import json

from eclip_desktop.cli import main
from tests.conftest import write_image

TINY = ["--model", "eclip-tiny-vit", "--pretrained", "random", "--device", "cpu"]


def test_several_images_after_one_flag_and_the_repeated_form(tmp_path, capsys):
    a, b, c = (write_image(tmp_path / f"{n}.png", w=40, h=32, seed=i) for i, n in enumerate("abc"))
    (tmp_path / "more").mkdir()
    write_image(tmp_path / "more" / "d.png", w=40, h=32, seed=4)
    out = tmp_path / "out"
    rc = main(["export", "--images", c, a, b, "--images", str(tmp_path / "more"), "--text", "a cat",
               "--out", str(out), *TINY])
    assert rc == 0, capsys.readouterr().err
    rows = json.loads((out / "index.json").read_text())["rows"]
    assert [r["stem"] for r in rows if r["method"] == "itsm"] == ["c", "a", "b", "d"]  # the order given
    assert all(r["status"] == "ok" for r in rows), rows
