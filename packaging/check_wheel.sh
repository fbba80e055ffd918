#!/usr/bin/env bash
# Build the wheel and use it as a user would: from the checkout's files (tracked and untracked, never
# ignored ones), into a fresh virtual environment that reuses the dependencies of .venv (no second torch
# download, no network), run from a folder outside the checkout with the Hugging Face hub offline:
# the version, explain and export on the embedded family and the bundled sample, the desktop entry, and
# the GUI offscreen for a few seconds after its window is shown. CI runs it after the tests; run it locally the same way:
#
#     bash packaging/check_wheel.sh          # BASE_PYTHON=... to reuse another environment
#
# KEEP_WHEEL=DIR copies the wheel there. Everything else lives in a temporary folder removed at exit.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
BASE_PY=${BASE_PYTHON:-$REPO/.venv/bin/python}
GUI_SECONDS=${GUI_SECONDS:-6}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/eclip-wheel.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
fail() { echo "check_wheel: FAIL: $*" >&2; exit 1; }
step() { echo "check_wheel: $*" >&2; }
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

# 1. The source a clean clone has.
mkdir -p "$WORK/src" "$WORK/dist" "$WORK/run"
"$BASE_PY" - "$WORK/src" <<'EOF'
import os, shutil, subprocess, sys
listed = subprocess.run(["git", "ls-files", "-z", "-co", "--exclude-standard"], check=True, capture_output=True).stdout
for name in filter(None, listed.decode().split("\0")):
    if os.path.isfile(name):  # a tracked file deleted in the work tree is not part of it
        os.makedirs(os.path.join(sys.argv[1], os.path.dirname(name)), exist_ok=True)
        shutil.copy2(name, os.path.join(sys.argv[1], name))
EOF

# 2. The wheel (the build backend from .venv: no download, no build isolation).
t0=$(now)
"$BASE_PY" -m pip wheel -q --no-deps --no-build-isolation --no-index -w "$WORK/dist" "$WORK/src" \
  >"$WORK/build.log" 2>&1 || { cat "$WORK/build.log" >&2; fail "the wheel did not build"; }
WHEEL=$(ls "$WORK"/dist/eclip_desktop-*.whl)
step "built $(basename "$WHEEL"): $(du -k "$WHEEL" | cut -f1) KB in $(secs "$t0" "$(now)") s"
"$BASE_PY" - "$WHEEL" <<'EOF' || fail "the wheel lacks package data"
import sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
models = [n for n in names if n.startswith("eclip_desktop/resources/models/") and n.endswith(".safetensors")]
need = ["eclip_desktop/resources/samples/shapes_scene.png", "eclip_desktop/resources/shapes/concepts.json",
        "eclip_desktop/linux/io.github.eclip_desktop.EclipDesktop.desktop",
        "eclip_desktop/linux/io.github.eclip_desktop.EclipDesktop.metainfo.xml",
        "eclip_desktop/linux/icons/eclip-desktop.svg", "eclip_desktop/linux/icons/256x256/eclip-desktop.png"]
missing = [n for n in need if n not in names]
configs = [n for n in names if n.startswith("eclip_desktop/resources/model_configs/")]
print(f"check_wheel: wheel has {len(models)} model files, {len(configs)} model configs, {len(names)} files",
      file=sys.stderr)
if len(models) < 8 or missing or not configs:
    sys.exit(f"check_wheel: {len(models)} model files (need >= 8); missing: {missing}; configs: {len(configs)}")
EOF
if [ -n "${KEEP_WHEEL:-}" ]; then mkdir -p "$KEEP_WHEEL" && cp "$WHEEL" "$KEEP_WHEEL/"; fi

# 3. A fresh environment that sees .venv's packages through a .pth line (a plain path: .venv's own .pth
#    files, such as an editable install of this checkout, are not run), and the wheel installed into it.
"$BASE_PY" -m venv --without-pip "$WORK/venv"
PY="$WORK/venv/bin/python"
BASE_SITE=$("$BASE_PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
SITE=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
echo "$BASE_SITE" > "$SITE/_eclip_base_env.pth"
t0=$(now)
"$BASE_PY" -m pip --python "$PY" install -q --no-index --no-deps "$WHEEL" >"$WORK/install.log" 2>&1 \
  || { cat "$WORK/install.log" >&2; fail "the wheel did not install"; }
step "installed into a fresh venv in $(secs "$t0" "$(now)") s"

# 4. Use it from outside the checkout, offline.
cd "$WORK/run"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 QT_QPA_PLATFORM=offscreen
export XDG_DATA_HOME="$WORK/xdg" XDG_CACHE_HOME="$WORK/cache" XDG_CONFIG_HOME="$WORK/config"
"$PY" - "$WORK/venv" <<'EOF' || fail "the installed package does not read its own data"
import sys
import eclip_desktop
from eclip_desktop.core.io.paths import LINUX_FILES, RESOURCES
for what, path in (("package", eclip_desktop.__file__), ("resources", RESOURCES), ("desktop files", LINUX_FILES)):
    if not str(path).startswith(sys.argv[1]):
        sys.exit(f"check_wheel: the {what} come from {path}, not from the installed wheel")
EOF
SAMPLE=$("$PY" -c 'from eclip_desktop.core.io.paths import RESOURCES; print(RESOURCES / "samples" / "shapes_scene.png")')

version=$("$WORK/venv/bin/eclip-desktop" --version) || fail "eclip-desktop --version"
expected=$("$PY" -c 'import importlib.metadata as m; print(m.version("eclip-desktop"))')
[ "$version" = "eclip-desktop $expected" ] || fail "--version printed '$version', the wheel is $expected"
step "$version"

t0=$(now)
"$PY" -m eclip_desktop explain "$SAMPLE" --text "a photo of a circle." --out maps 2>"$WORK/explain.log" \
  || { cat "$WORK/explain.log" >&2; fail "python -m eclip_desktop explain"; }
ls maps/shapes_scene__itsm__masked_max__*.npy >/dev/null 2>&1 || fail "explain wrote no map"
"$PY" - "$WORK/venv" maps/shapes_scene__itsm__masked_max__*.json <<'EOF' || fail "explain did not use the installed family"
import json, sys
from eclip_desktop.core.model.family import FAMILY
weights = json.load(open(sys.argv[2]))["pretrained"]
if not (weights.startswith(sys.argv[1]) and f"/resources/models/{FAMILY}/" in weights):
    sys.exit(f"check_wheel: explain used {weights}")
EOF
step "explain on the default family, offline, outside the checkout: $(secs "$t0" "$(now)") s"

cp "$SAMPLE" a.png && cp "$SAMPLE" b.png && cp "$SAMPLE" c.png
"$WORK/venv/bin/eclip-desktop" export --images a.png b.png c.png --text "a photo of a square." --out batch \
  2>"$WORK/export.log" || { cat "$WORK/export.log" >&2; fail "export --images a.png b.png c.png"; }
[ "$(ls batch/*__itsm__masked_max__*.npy | wc -l)" -eq 3 ] || fail "export --images a b c did not write 3 maps"
step "export --images a.png b.png c.png: 3 maps"

"$WORK/venv/bin/eclip-desktop" install-desktop-entry >/dev/null || fail "install-desktop-entry"
entry="$XDG_DATA_HOME/applications/io.github.eclip_desktop.EclipDesktop.desktop"
[ -f "$XDG_DATA_HOME/icons/hicolor/scalable/apps/eclip-desktop.svg" ] || fail "the icon was not installed"
grep -qxF "Exec=$PY -m eclip_desktop gui %F" "$entry" || fail "the launcher does not start this install: $(grep ^Exec= "$entry")"
if command -v desktop-file-validate >/dev/null; then
  desktop-file-validate "$entry" || fail "the installed desktop entry does not validate"
fi
step "install-desktop-entry: launcher, icons and metainfo under \$XDG_DATA_HOME"

# The GUI as the launcher starts it (`python -m eclip_desktop gui`, offscreen), kept open GUI_SECONDS
# after its window is shown: a traceback, an exit of its own or no window within the limit fail.
set +e
timeout 120 "$PY" -u - "$GUI_SECONDS" >"$WORK/gui.log" 2>&1 <<'EOF'
import sys, time
t0 = time.monotonic()
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
import eclip_desktop.app.main_window as main_window
from eclip_desktop.cli import main

show = main_window.MainWindow.show
def shown(window):
    show(window)
    print(f"window shown after {time.monotonic() - t0:.1f} s: {window.windowTitle()}", flush=True)
    QTimer.singleShot(int(float(sys.argv[1]) * 1000), lambda: (print("GUI alive", flush=True), QApplication.quit()))
main_window.MainWindow.show = shown
sys.exit(main(["gui"]))
EOF
rc=$?
set -e
if [ $rc -ne 0 ] || grep -q "Traceback" "$WORK/gui.log" || ! grep -q "^GUI alive" "$WORK/gui.log"; then
  cat "$WORK/gui.log" >&2; fail "the GUI (exit status $rc; 124: no window within 120 s)"
fi
step "GUI offscreen: $(grep '^window shown' "$WORK/gui.log"), alive ${GUI_SECONDS} s more"
step "OK"
