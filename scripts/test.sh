#!/usr/bin/env bash
# Runs every test of burst: formatting, lints, docs, the workspace's unit, integration
# and doc tests (release build, so the stress tests are quick), and the loom model
# checks of the ring. Tests that need root or hugepages skip with a one-line reason
# unless BURST_REQUIRE_HUGEPAGES=1 (set by .ci/run), which makes them fail instead.
#
# Usage: scripts/test.sh            everything
#        scripts/test.sh --quick    skip the loom model checks
set -euo pipefail
cd "$(dirname "$0")/.."

quick=0
[ "${1:-}" = "--quick" ] && quick=1

step() { printf '\n==> %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy (deny warnings)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo doc (deny warnings)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked --quiet

step "cargo test --workspace --release"
cargo test --workspace --release --locked

if [ "$quick" = 0 ]; then
    step "loom model checks of the ring"
    RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom \
        cargo test -p burst-ring --release --locked --test loom
fi
