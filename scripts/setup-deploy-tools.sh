#!/usr/bin/env bash
# Installs the deploy checks' Python tools (moto's AWS API emulator and cfn-lint) into a venv
# under tools/aws-emulator/.venv. Skips the install when the venv already matches the
# requirements file.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=tools/aws-emulator
venv="$dir/.venv"
stamp="$venv/.requirements"
if [ -x "$venv/bin/moto_server" ] && [ -x "$venv/bin/cfn-lint" ] && cmp -s "$dir/requirements.txt" "$stamp"; then
  echo "setup-deploy-tools: $venv is up to date"
  exit 0
fi
if ! command -v python3 >/dev/null 2>&1; then
  echo "setup-deploy-tools: python3 is not installed (Debian: apt-get install -y python3 python3-venv)" >&2
  exit 1
fi
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$dir/requirements.txt"
cp "$dir/requirements.txt" "$stamp"
echo "setup-deploy-tools: installed $("$venv/bin/moto_server" --version 2>/dev/null || echo moto) and $("$venv/bin/cfn-lint" --version)"
