"""Policies issue 15 put in one place: images decoded once per command, Heatmaps that carry their pooling."""
from conftest import write_image

from eclip_desktop.core.explain.engine import Engine


def test_explain_decodes_each_image_once_with_every_sibling(tmp_path, monkeypatch, capsys):
    from eclip_desktop.cli import main
    from eclip_desktop.core.export import explain_job
    from eclip_desktop.core.io import imageio

    calls = []
    real = imageio.load_image

    def counting(path, *a, **k):
        calls.append(str(path))
        return real(path, *a, **k)

    monkeypatch.setattr(imageio, "load_image", counting)
    monkeypatch.setattr(explain_job, "load_image", counting)
    images = [write_image(tmp_path / f"im{i}.png", w=72, h=56) for i in range(2)]
    # The embedded family runs one sibling model per pooling: four runs of the explain job.
    assert main(["explain", *images, "--text", "a red circle", "--pooling", "all", "--out", str(tmp_path / "o"),
                 "--device", "cpu"]) == 0, capsys.readouterr().err
    assert sorted(calls) == sorted(images), calls
    assert len(list((tmp_path / "o").glob("*__itsm__*.npy"))) >= 2 * 2


def test_heatmaps_carry_the_pooling_they_are_shown_under(tiny_engine: Engine, tmp_path):
    from eclip_desktop.core.io.imageio import load_image

    image = load_image(write_image(tmp_path / "a.png", w=64, h=48))
    for pooling in ("avg", "masked_max"):
        exp = tiny_engine.explain(image, ["a dog", "a cat"], poolings=(pooling, "native"))
        assert {hm.pooling for hm in exp.heatmaps} == {pooling}


def test_the_command_line_parser_needs_no_torch():
    # `eclip-desktop` with no subcommand builds the parser before it opens the window, and `--version`
    # is nothing but the parser: neither may wait seconds for torch and open_clip.
    import subprocess
    import sys
    code = ("import sys; from eclip_desktop.cli import build_parser; build_parser(); "
            "bad = [m for m in ('torch', 'open_clip') if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_no_module_imports_another_modules_private_names():
    import ast
    import pathlib
    root = pathlib.Path(__file__).resolve().parents[1]
    found = []
    for path in list((root / "eclip_desktop").rglob("*.py")) + list((root / "scripts").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("eclip_desktop"):
                found += [f"{path.relative_to(root)}: {node.module}.{a.name}" for a in node.names
                          if a.name.startswith("_") and not a.name.startswith("__")]
    assert not found, "make these public where they are shared: " + "; ".join(found)
