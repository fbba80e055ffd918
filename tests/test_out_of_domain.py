"""One out-of-domain decision (core/model/training_domain.py) for the CLI, every sidecar, index and figure."""
import csv
import json

from conftest import write_image

from eclip_desktop.cli import main
from eclip_desktop.core.export.artifacts import with_domain_line
from eclip_desktop.core.model.family import family_spec
from eclip_desktop.core.model.training_domain import shapes_world_model, verdict
from eclip_desktop.viewer.samples import sample_path


def _family_info():
    spec = family_spec("native", "cpu")
    return {"model": spec.architecture, "pretrained": spec.pretrained}


def test_verdict_for_a_shapes_model_on_a_scene_a_photo_and_for_open_clip(tmp_path):
    photo = write_image(tmp_path / "holiday.png")
    info = _family_info()
    assert shapes_world_model(info)
    assert verdict(str(sample_path()), info)["out_of_domain"] is False
    v = verdict(photo, info)
    assert v["out_of_domain"] is True and "holiday.png" in v["reason"] and "Shapes World" in v["reason"]
    other = verdict(photo, {"model": "ViT-B-16", "pretrained": "random"})
    assert other["out_of_domain"] is False and "not judged" in other["reason"]
    # a weights file whose card says it was trained elsewhere is not a Shapes World model
    weights = tmp_path / "mine.safetensors"
    weights.write_bytes(b"x")
    (tmp_path / "mine.json").write_text(json.dumps({"data": {"source": "voc:/data/voc"}}))
    assert not shapes_world_model({"pretrained": str(weights)})


def test_figure_title_carries_the_verdict():
    assert with_domain_line(["a"], {"out_of_domain": True, "out_of_domain_reason": "why"}) == ["a", "out of domain: why"]
    assert with_domain_line(["a"], {"out_of_domain": False, "out_of_domain_reason": "fine"}) == ["a"]


def test_explain_on_a_photo_says_so_on_stderr_and_in_the_sidecar(tmp_path, capsys):
    photo = write_image(tmp_path / "holiday.png")
    out = tmp_path / "out"
    assert main(["explain", photo, "--text", "a photo of a circle.", "--device", "cpu", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "note:" in err and "holiday.png" in err and "out of domain" in err
    meta = json.loads(next(out.glob("*__itsm__*.json")).read_text())
    assert meta["out_of_domain"] is True and "Shapes World" in meta["out_of_domain_reason"]


def test_explain_on_a_scene_is_in_domain(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["explain", str(sample_path()), "--text", "a photo of a circle.", "--device", "cpu",
                 "--out", str(out)]) == 0
    assert "out of domain" not in capsys.readouterr().err
    meta = json.loads(next(out.glob("*__itsm__*.json")).read_text())
    assert meta["out_of_domain"] is False


def test_export_index_and_grid_carry_the_verdict(tmp_path, capsys):
    photo = write_image(tmp_path / "holiday.png")
    out = tmp_path / "out"
    assert main(["export", "--images", photo, str(sample_path()), "--text", "a photo of a circle.",
                 "--pooling", "native", "--pooling", "max", "--grid", "pooling", "--device", "cpu",
                 "--out", str(out)]) == 0
    assert "holiday.png" in capsys.readouterr().err
    rows = list(csv.DictReader((out / "index.csv").open()))
    by_image = {}
    for r in rows:
        by_image.setdefault(r["image"].split("/")[-1], set()).add(r["out_of_domain"])
    assert by_image["holiday.png"] == {"True"} and by_image[sample_path().name] == {"False"}
    grid = json.loads(next(out.glob("holiday__grid-pooling*.json")).read_text())
    assert grid["out_of_domain"] is True and any("out of domain" in line for line in grid["title"])
