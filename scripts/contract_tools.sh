#!/usr/bin/env bash
# Ensures the Python tools of the contract tests are installed: schemathesis (property-based
# requests generated from docs/openapi.json) and openapi-spec-validator, in a virtualenv under
# target/ so that nothing outside the repository changes. Idempotent: when the pinned versions
# are there it only checks. Needs root on a fresh Debian 12 machine (python3-venv).
set -euo pipefail

log() { echo "contract-tools: $*"; }
die() { echo "contract-tools: ERROR: $*" >&2; exit 1; }

cd "$(dirname "$0")/.."
VENV=${CONTRACT_VENV:-target/contract-venv}
# Pinned: the hook API and the command line of schemathesis change between major versions.
PACKAGES=(schemathesis==4.32.5 openapi-spec-validator==0.9.0)
STAMP="$VENV/.installed"

if [[ -f $STAMP && $(cat "$STAMP") == "${PACKAGES[*]}" ]]; then
    log "already installed in $VENV"
    exit 0
fi
command -v python3 >/dev/null || missing=python3
if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
    [[ $(id -u) == 0 ]] || die "need root to install python3-venv"
    log "installing python3-venv"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        ${missing:-} python3-venv >/dev/null
fi
rm -rf "$VENV"
python3 -m venv "$VENV"
log "installing ${PACKAGES[*]} into $VENV"
"$VENV/bin/pip" install --quiet --disable-pip-version-check "${PACKAGES[@]}"
echo "${PACKAGES[*]}" >"$STAMP"
