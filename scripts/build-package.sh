#!/usr/bin/env bash
# Builds the JSON Web Token package from package/json-web-token into json-web-token-1.0.1.tgz
# (or the path given), reproducibly, and prints its sha256 for `package install --sha256`.
#
# Usage: scripts/build-package.sh [OUTPUT.tgz]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-json-web-token-1.0.1.tgz}
cargo build --release --quiet
./target/release/tessera package build package/json-web-token -o "$out"
