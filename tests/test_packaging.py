"""Release packaging: package data mapping, version, the Linux desktop files and `install-desktop-entry`.

The wheel itself is built and used by packaging/check_wheel.sh (CI, after the tests); these checks are
the fast ones: what setup.py would ship, where the data is found, and the files it ships.
"""
import ast
import fnmatch
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from PIL import Image

import eclip_desktop
from eclip_desktop.cli import build_parser, main
from eclip_desktop.cli.install_desktop_entry import desktop_entry, exec_line
from eclip_desktop.core.io import paths
from eclip_desktop.core.io.paths import APP_ID, ICON_NAME, LINUX_FILES, RESOURCES

REPO = Path(__file__).resolve().parents[1]
LINUX = REPO / "packaging" / "linux"


def _setup_literal(name):
    tree = ast.parse((REPO / "setup.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == name for t in node.targets):
            return ast.literal_eval(node.value)
    raise AssertionError(f"{name} not in setup.py")


def _tracked(folder):
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("needs a git checkout")
    out = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", folder], cwd=REPO,
                         capture_output=True, text=True, check=True).stdout
    return [Path(line).relative_to(folder).as_posix() for line in out.splitlines()]


@pytest.mark.parametrize("package,folder,unshipped", [
    ("eclip_desktop.resources", "resources", set()),
    ("eclip_desktop.linux", "packaging/linux", {"make_icons.py"}),
])
def test_every_tracked_data_file_is_shipped(package, folder, unshipped):
    """A file added under resources/ that no package-data pattern matches would silently miss the wheel."""
    patterns = _setup_literal("PACKAGE_DATA")[package]
    tracked = _tracked(folder)
    assert tracked
    missed = [f for f in tracked if f not in unshipped and not any(fnmatch.fnmatch(f, p) for p in patterns)]
    assert not missed, f"add a pattern for these to setup.py: {missed}"
    models = [f for f in tracked if fnmatch.fnmatch(f, "models/*/*.safetensors")]
    if package == "eclip_desktop.resources":
        assert len(models) >= 8 and "samples/shapes_scene.png" in tracked


def test_package_dirs_map_the_repository_folders():
    package_dir = _setup_literal("PACKAGE_DIR")
    assert package_dir == {"eclip_desktop.resources": "resources", "eclip_desktop.linux": "packaging/linux"}
    assert set(_setup_literal("PACKAGE_DATA")) == set(package_dir)


def test_the_checkout_reads_its_one_copy_of_the_data():
    assert RESOURCES == REPO / "resources" and LINUX_FILES == LINUX
    assert not (REPO / "eclip_desktop" / "resources").exists()  # git keeps one copy, outside the package


def test_an_installed_copy_is_preferred(tmp_path, monkeypatch):
    (tmp_path / "resources").mkdir()
    monkeypatch.setattr(paths, "files", lambda package: tmp_path)
    assert paths._package_data("resources", "resources") == tmp_path / "resources"
    assert paths._package_data("linux", "packaging/linux") == REPO / "packaging" / "linux"


def test_version_flag_and_module_entry_point(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0 and capsys.readouterr().out.strip() == f"eclip-desktop {eclip_desktop.__version__}"
    main_py = (REPO / "eclip_desktop" / "__main__.py").read_text()
    assert "from eclip_desktop.cli import main" in main_py and "sys.exit(main())" in main_py


def test_export_images_takes_several_values_and_keeps_the_repeated_form():
    parse = build_parser().parse_args
    args = parse(["export", "--images", "a.png", "b.png", "c.png", "--text", "t", "--out", "o"])
    assert args.images == ["a.png", "b.png", "c.png"] and args.text == ["t"]
    args = parse(["export", "--images", "d", "--images", "x/*.png", "l.txt", "--out", "o", "--text", "t"])
    assert args.images == ["d", "x/*.png", "l.txt"]
    with pytest.raises(SystemExit):
        parse(["export", "--images", "--out", "o"])


# --- the Linux desktop files -------------------------------------------------------------------------

def test_desktop_files_agree_with_the_package():
    entry = (LINUX / f"{APP_ID}.desktop").read_text()
    assert f"Icon={ICON_NAME}\n" in entry and "Exec=eclip-desktop gui %F\n" in entry
    meta = ET.parse(LINUX / f"{APP_ID}.metainfo.xml").getroot()
    assert meta.findtext("id") == APP_ID and meta.findtext("launchable") == f"{APP_ID}.desktop"
    assert meta.find("releases/release").get("version") == eclip_desktop.__version__
    ET.parse(LINUX / "icons" / f"{ICON_NAME}.svg")  # well-formed
    sizes = sorted(int(p.parent.name.split("x")[0]) for p in (LINUX / "icons").glob(f"*x*/{ICON_NAME}.png"))
    assert {16, 32, 48, 64, 128, 256} <= set(sizes)
    for size in sizes:
        with Image.open(LINUX / "icons" / f"{size}x{size}" / f"{ICON_NAME}.png") as im:
            assert im.size == (size, size) and im.mode == "RGBA"


@pytest.mark.skipif(shutil.which("desktop-file-validate") is None, reason="needs desktop-file-utils")
def test_desktop_entry_validates():
    result = subprocess.run(["desktop-file-validate", str(LINUX / f"{APP_ID}.desktop")], capture_output=True, text=True)
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr


@pytest.mark.skipif(shutil.which("appstreamcli") is None, reason="needs appstream")
def test_metainfo_validates():
    result = subprocess.run(["appstreamcli", "validate", "--no-net", str(LINUX / f"{APP_ID}.metainfo.xml")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_exec_line_quotes_paths_as_the_spec_says():
    assert exec_line("/usr/bin/python3") == "/usr/bin/python3 -m eclip_desktop gui %F"
    # reserved characters: double quotes, with ` $ \\ " escaped, then the string escape doubles backslashes
    assert exec_line("/opt/my env/bin/python") == '"/opt/my env/bin/python" -m eclip_desktop gui %F'
    assert exec_line("/opt/100%/$x/python") == '"/opt/100%%/\\\\$x/python" -m eclip_desktop gui %F'
    entry = desktop_entry("[Desktop Entry]\nExec=eclip-desktop gui %F\nTryExec=eclip-desktop\n", "/v/bin/python")
    assert entry == "[Desktop Entry]\nExec=/v/bin/python -m eclip_desktop gui %F\nTryExec=/v/bin/python\n"


def _install(*extra):
    return main(["install-desktop-entry", *extra])


def test_install_desktop_entry_writes_refuses_overwrites_and_uninstalls(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    monkeypatch.setattr("eclip_desktop.cli.install_desktop_entry._refresh_caches", lambda data_home: None)
    entry = tmp_path / "applications" / f"{APP_ID}.desktop"
    icon = tmp_path / "icons" / "hicolor" / "scalable" / "apps" / f"{ICON_NAME}.svg"
    png = tmp_path / "icons" / "hicolor" / "48x48" / "apps" / f"{ICON_NAME}.png"
    meta = tmp_path / "metainfo" / f"{APP_ID}.metainfo.xml"

    assert _install() == 0
    assert entry.is_file() and icon.is_file() and png.is_file() and meta.is_file()
    assert f"Exec={exec_line(sys.executable)}\n" in entry.read_text()
    if shutil.which("desktop-file-validate"):
        result = subprocess.run(["desktop-file-validate", str(entry)], capture_output=True, text=True)
        assert result.returncode == 0, result.stdout
    assert _install() == 0  # the same files again: nothing to refuse
    capsys.readouterr()

    entry.write_text("[Desktop Entry]\nName=mine\n")
    assert _install() == 1
    err = capsys.readouterr().err
    assert "--overwrite" in err and err.count("\n") == 1
    assert entry.read_text() == "[Desktop Entry]\nName=mine\n"
    assert _install("--overwrite") == 0 and "Exec=" in entry.read_text()

    other = tmp_path / "applications" / "someone-else.desktop"
    other.write_text("[Desktop Entry]\n")
    assert _install("--uninstall") == 0
    assert not entry.exists() and not icon.exists() and not png.exists() and not meta.exists()
    assert other.exists()


def test_install_desktop_entry_data_home_option(tmp_path, monkeypatch):
    monkeypatch.setattr("eclip_desktop.cli.install_desktop_entry._refresh_caches", lambda data_home: None)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "not-here"))
    assert main(["install-desktop-entry", "--data-home", str(tmp_path / "here")]) == 0
    assert (tmp_path / "here" / "applications" / f"{APP_ID}.desktop").is_file()
    assert not (tmp_path / "not-here").exists()


def test_xdg_data_home_ignores_relative_values(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_DATA_HOME", "relative/share")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert paths.xdg_data_home() == tmp_path / ".local" / "share"
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "d"))
    assert paths.xdg_data_home() == tmp_path / "d"

