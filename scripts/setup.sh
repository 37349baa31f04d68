#!/usr/bin/env bash
# Prepare this machine for the orchestrator and its lab: Debian packages, a Python 3.12 virtual
# environment in .venv with the project installed editable. Safe to run again; it only adds what
# is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the lab runs (systemd-nspawn, debootstrap, dpkg-scanpackages, ip, ssh-keygen,
# pg_dump), what NetBox builds against (libpq-dev), the services it uses, the weasyprint
# command that prints the handover document as a PDF (phase 5; without it there is no PDF), and
# the chromium the run viewer's browser test drives (Playwright never downloads a browser here).
packages=(systemd-container debootstrap dpkg-dev iproute2 openssh-client postgresql-client
          libpq-dev gcc postgresql redis-server make weasyprint chromium)
missing=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" -ne 0 ]; then
    echo "error: missing Debian packages: ${missing[*]}" >&2
    echo "hint: run as root, or install them with: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  echo "installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# A Python >= 3.12: $PYTHON, else python3.12 / python3.13 on PATH, else one that pyenv has.
find_python() {
  local candidate version
  for candidate in ${PYTHON:-} python3.12 python3.13 python3; do
    if version=$("$candidate" -c 'import sys; print(sys.version_info >= (3, 12))' 2>/dev/null) \
        && [ "$version" = True ]; then
      command -v "$candidate"; return 0
    fi
  done
  if command -v pyenv >/dev/null; then
    for version in $(pyenv versions --bare 2>/dev/null | grep -E '^3\.1[2-9](\.[0-9]+)?$' | sort -V); do
      candidate="$(pyenv root)/versions/$version/bin/python3"
      [ -x "$candidate" ] && { echo "$candidate"; return 0; }
    done
  fi
  return 1
}
if [ ! -x .venv/bin/python ]; then
  python=$(find_python) || {
    echo "error: no Python 3.12 or newer found" >&2
    echo "hint: install Python 3.12 and put python3.12 on PATH, or set PYTHON=/path/to/python3.12" >&2
    exit 1
  }
  echo "creating .venv with $("$python" --version)"
  "$python" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[dev]'
echo "setup done: .venv ($(.venv/bin/python --version))"
