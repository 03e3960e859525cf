#!/usr/bin/env bash
# The test command (README, .ci/run): every test of the workspace, offline. The HTML report test
# renders the report in headless Chromium, Debian's `chromium` package: installed here when missing
# (set QM_MIGRATE_CHROMIUM to use another build).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x /usr/bin/chromium ] && [ -z "${QM_MIGRATE_CHROMIUM:-}" ]; then
    if command -v apt-get >/dev/null 2>&1; then
        sudo=""
        if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
        echo "installing Debian's chromium for the HTML report test" >&2
        $sudo apt-get update -q >&2
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q chromium >&2
    else
        echo "the HTML report test needs Chromium (/usr/bin/chromium, or QM_MIGRATE_CHROMIUM) and this machine has no apt-get" >&2
        exit 1
    fi
fi
exec cargo test --workspace --locked "$@"
