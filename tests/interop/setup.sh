#!/usr/bin/env bash
# Creates the Python venv of the interoperability suite (third-party Mesos
# clients) when it is missing: $1, default target/interop-venv. Versions are
# pinned. http-parser 0.9.0 (needed by pymesos) ships a C extension that no
# longer builds on Python >= 3.11; it is installed with its pure-Python parser
# (http_parser.pyparser, the one it uses on PyPy), which pymesos supports.
set -euo pipefail
venv="${1:-target/interop-venv}"
if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c 'import pymesos' 2>/dev/null; then
    exit 0
fi
if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
    echo "installing python3-venv for the interop suite" >&2
    apt-get install -y -q python3-venv >/dev/null
fi
echo "creating the interop venv in $venv (pymesos)" >&2
rm -rf "$venv"
python3 -m venv "$venv"
pip="$venv/bin/pip"
"$pip" install -q --disable-pip-version-check six==1.17.0 addict==2.4.0 kazoo==2.11.0
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$pip" download -q --disable-pip-version-check --no-deps --no-binary :all: -d "$work" http-parser==0.9.0
tar xzf "$work"/http-parser-0.9.0.tar.gz -C "$work"
sed -i 's/run_setup(not IS_PYPY)/run_setup(False)/' "$work"/http-parser-0.9.0/setup.py
"$pip" install -q --disable-pip-version-check "$work"/http-parser-0.9.0
"$pip" install -q --disable-pip-version-check --no-deps pymesos==0.3.15
"$venv/bin/python" -c 'import pymesos' >/dev/null
