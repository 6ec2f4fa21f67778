#!/usr/bin/env bash
# Installing a 20 MiB package of 5,000 files, against `tar xzf` of the same archive followed by
# `sync`, side by side in one run (the issue's target: install costs at most twice as much).
#
# Usage: scripts/bench-install.sh [ROUNDS]   (default 5; prints each round and the medians)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}

cargo build --release --quiet
bin=$PWD/target/release/tessera
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# 5,000 files of about 4 KiB of random (incompressible) bytes: 20 MiB in all, in 50 folders.
src=$work/src
mkdir -p "$src"
cat > "$src/package.toml" <<'TOML'
[package]
name = "bulk"
version = "1.0.0"
description = "Five thousand files for the install benchmark"
host = ">=0.1.0"
TOML
python3 - "$src" <<'PY'
import os, sys
root = sys.argv[1]
for d in range(50):
    os.makedirs(f"{root}/d{d:02}", exist_ok=True)
    for f in range(100 if d < 49 else 99):
        with open(f"{root}/d{d:02}/f{f:03}.bin", "wb") as out:
            out.write(os.urandom(4194))
PY
"$bin" package build "$src" -o "$work/bulk.tgz" > /dev/null
files=$(find "$src" -type f | wc -l)
bytes=$(du -sb "$src" | cut -f1)
echo "package: $files files, $bytes bytes unpacked, $(stat -c %s "$work/bulk.tgz") bytes packed"

export TESSERA_PASSWORD=bench-root-password
now() { date +%s.%N; }
tar_times=() ; install_times=()
for round in $(seq "$rounds"); do
    rm -rf "$work/x" "$work/inst"
    mkdir "$work/x"
    sync
    t0=$(now); tar xzf "$work/bulk.tgz" -C "$work/x"; sync; t1=$(now)
    "$bin" --data-dir "$work/inst" init > /dev/null
    sync
    t2=$(now); "$bin" --data-dir "$work/inst" --as root package install "$work/bulk.tgz" > /dev/null; t3=$(now)
    tar_t=$(echo "$t1 - $t0" | bc -l); inst_t=$(echo "$t3 - $t2" | bc -l)
    tar_times+=("$tar_t"); install_times+=("$inst_t")
    printf 'round %d: tar xzf + sync %.3f s, tessera package install %.3f s, ratio %.2f\n' \
        "$round" "$tar_t" "$inst_t" "$(echo "$inst_t / $tar_t" | bc -l)"
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
tm=$(median "${tar_times[@]}"); im=$(median "${install_times[@]}")
printf 'median: tar xzf + sync %.3f s, tessera package install %.3f s, ratio %.2f (target <= 2)\n' \
    "$tm" "$im" "$(echo "$im / $tm" | bc -l)"
