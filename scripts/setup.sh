#!/usr/bin/env bash
# Set up rep_coach in ./.venv on a fresh Debian/Ubuntu machine with Python >= 3.10, no ROS.
#   scripts/setup.sh          runtime: the package, its nodes and the rep-coach command
#   scripts/setup.sh --test   also the test, training (PyTorch CPU) and pose extras
# System packages (espeak-ng for speech, sox, alsa-utils for aplay) are installed
# when this runs as root or with password-less sudo; otherwise it says what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

extras=""
if [[ "${1:-}" == "--test" ]]; then
  extras="[test,train,pose]"
fi

apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  ((${#missing[@]})) || return 0
  local sudo=""
  if [[ $(id -u) -ne 0 ]]; then
    if sudo -n true 2>/dev/null; then sudo="sudo -n"; else
      echo "setup: please install: ${missing[*]} (apt-get install ${missing[*]})" >&2
      return 0
    fi
  fi
  echo "setup: installing ${missing[*]}" >&2
  $sudo apt-get update -qq >/dev/null 2>&1 || true
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1 \
    || echo "setup: could not install ${missing[*]}; speech falls back to tones/text" >&2
}

if command -v dpkg >/dev/null 2>&1; then
  apt_install espeak-ng sox alsa-utils
  python3 -m venv --help >/dev/null 2>&1 && python3 -c 'import ensurepip' 2>/dev/null \
    || apt_install python3-venv
fi

if [[ ! -x .venv/bin/python ]]; then
  python3 -m venv .venv
fi
# pip's output is shown only when it fails, without the noise of unreachable mirrors.
pip_quiet() {
  local log
  log=$(mktemp)
  if ! .venv/bin/python -m pip "$@" >"$log" 2>&1; then
    grep -v '^WARNING: Location' "$log" >&2 || true
    rm -f "$log"
    return 1
  fi
  rm -f "$log"
}
pip_quiet install --upgrade pip
# torch is pinned in the train extra; pip resolves it to the CPU build available here.
pip_quiet install -e ".${extras}"
.venv/bin/python -c 'import rep_coach, numpy, onnxruntime, rosbags, cyclonedds' \
  || { echo "setup: the installation is incomplete" >&2; exit 1; }
