#!/usr/bin/env bash
# One-step set-up on Debian/Ubuntu: system packages (WordNet, X libraries for Qt), then a
# virtual environment in .venv with the app and its test tools. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

# A first install needs room: torch with its CUDA libraries is about 6 GB in .venv, and pip
# unpacks into TMPDIR on the way. Failing here names the cause; pip's "Errno 28" halfway through
# leaves a broken .venv behind. ECLIP_MIN_FREE_GB=0 skips the check.
MIN_FREE_GB=${ECLIP_MIN_FREE_GB:-7}
if ! compgen -G ".venv/lib/python3*/site-packages/torch" >/dev/null; then
  for dir in . "${TMPDIR:-/tmp}"; do
    free_kb=$(df -Pk "$dir" | awk 'NR==2 {print $4}')
    if [ -n "$free_kb" ] && [ "$free_kb" -lt $((MIN_FREE_GB * 1024 * 1024)) ]; then
      echo "bootstrap: $(cd "$dir" && pwd) has $((free_kb / 1024 / 1024)) GB free; installing torch and" \
           "the app needs about $MIN_FREE_GB GB. Free some space (or set ECLIP_MIN_FREE_GB=0 to try anyway)." >&2
      exit 1
    fi
  done
fi

# desktop-file-utils and appstream: the validators the tests run on packaging/linux/.
SYSTEM_PACKAGES=(wordnet-base wordnet-sense-index libxcb-icccm4 libxcb-keysyms1 libxkbcommon-x11-0
                 libxcb-cursor0 libegl1 libgl1 libfontconfig1 libdbus-1-3 fonts-dejavu-core xvfb
                 desktop-file-utils appstream)
missing=()
if command -v dpkg-query >/dev/null 2>&1; then
  for p in "${SYSTEM_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
fi
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "installing system packages: ${missing[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
# torch, torchvision and open_clip in ONE resolver run: a later separate install lets pip swap torch.
.venv/bin/python -m pip install -q -e ".[test]"
echo "ready: .venv/bin/eclip-desktop" >&2
