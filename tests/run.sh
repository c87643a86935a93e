#!/usr/bin/env bash
# The whole test suite, from a clean clone on Debian 12 as root: system packages, a virtualenv,
# lint, type checks, unit/API tests and the conformance suites (real clients included).
set -euo pipefail
cd "$(dirname "$0")/.."

# Real clients for conformance/test_clients.py: dockerd (+containerd, ctr, runc), skopeo, podman, buildah;
# busybox-static is the offline root filesystem the test images are built from; postgresql for the
# metadata tests on PostgreSQL; docker-registry (CNCF Distribution) and wrk for the benchmark smoke
# test (tests/bench); chromium for the web console's browser tests (tests/console, through Playwright).
APT_PACKAGES=(python3-venv python3-dev postgresql docker.io skopeo podman buildah busybox-static docker-registry wrk chromium)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "== apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  echo "== creating .venv"
  python3 -m venv .venv
fi
echo "== pip install -e .[test]"
.venv/bin/pip install -q --disable-pip-version-check -e '.[test]'

echo "== ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "== mypy --strict"
.venv/bin/mypy
echo "== pytest"
.venv/bin/pytest -q "$@"
