#!/usr/bin/env bash
# Installs stripe-mock (Stripe's OpenAPI-driven mock server) into .temporal/bin
# for the Stripe adapter's request-shape test. Idempotent: skips when present.
# Built from source through the Go module proxy (no binary downloads here).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="$ROOT/.temporal/bin"
VERSION="${STRIPE_MOCK_VERSION:-latest}"

if [ -x "$BIN/stripe-mock" ]; then
  printf '[stripe-mock] present: %s (delete it to reinstall)\n' "$("$BIN/stripe-mock" -version 2>/dev/null || echo "$BIN/stripe-mock")" >&2
  exit 0
fi
command -v go >/dev/null 2>&1 || { printf '[stripe-mock] error: go is not installed; the Stripe request-shape test will be skipped\n' >&2; exit 1; }
mkdir -p "$BIN"
printf '[stripe-mock] go install github.com/stripe/stripe-mock@%s\n' "$VERSION" >&2
GOBIN="$BIN" go install "github.com/stripe/stripe-mock@$VERSION"
printf '[stripe-mock] installed %s\n' "$("$BIN/stripe-mock" -version 2>/dev/null || echo "$BIN/stripe-mock")" >&2
