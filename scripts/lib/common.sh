# shellcheck shell=bash
# Helpers shared by the scripts. Source it; it defines functions (and the
# checkout's root, for run_tool) only.

# The checkout this file is in, found once, when it is sourced: a script
# may change directory before it calls run_tool.
_common_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

# die prints an error and exits 1.
die() {
  printf 'error: %s\n' "$*" >&2
  exit 1
}

# warn prints a warning.
warn() {
  printf 'warning: %s\n' "$*" >&2
}

# dotenv_each FILE CALLBACK calls CALLBACK KEY VALUE for each KEY=VALUE line
# of FILE, without evaluating anything: blank lines and # comments are
# skipped, an "export " prefix is allowed, a value may be wrapped in single
# or double quotes (kept verbatim inside), and an unquoted value ends at
# " #". A UTF-8 byte-order mark before the first line is ignored. Other
# lines are reported and skipped.
dotenv_each() {
  local file=$1 callback=$2 line key value n=0
  local re='^[[:space:]]*(export[[:space:]]+)?([A-Za-z_][A-Za-z0-9_]*)[[:space:]]*=[[:space:]]*(.*)$'
  local dq='^"(.*)"[[:space:]]*(#.*)?$' sq="^'(.*)'[[:space:]]*(#.*)?\$"
  while IFS= read -r line || [ -n "$line" ]; do
    n=$((n + 1))
    line=${line%$'\r'}
    # A byte-order mark (editors on Windows add one) would make the first
    # line's key unreadable and drop it.
    if [ "$n" = 1 ]; then line=${line#$'\xef\xbb\xbf'}; fi
    [[ $line =~ ^[[:space:]]*(#|$) ]] && continue
    if [[ ! $line =~ $re ]]; then
      warn "$file:$n: not KEY=VALUE, ignored"
      continue
    fi
    key=${BASH_REMATCH[2]}
    value=${BASH_REMATCH[3]}
    if [[ $value =~ $dq ]] || [[ $value =~ $sq ]]; then
      value=${BASH_REMATCH[1]}
    else
      value=${value%%[[:space:]]#*}
      value=${value%"${value##*[![:space:]]}"}
    fi
    "$callback" "$key" "$value"
  done <"$file"
}

# _dotenv_export_unset exports KEY=VALUE unless KEY is already in the
# environment: the process environment wins over .env.
_dotenv_export_unset() {
  if [ -z "${!1+set}" ]; then
    export "$1=$2"
  fi
}

# load_dotenv [FILE] loads FILE (default .env) into the environment if it
# exists; variables already set win.
load_dotenv() {
  local file=${1:-.env}
  if [ -f "$file" ]; then
    dotenv_each "$file" _dotenv_export_unset
  fi
}

# now_seconds prints the time in seconds, with a fraction when the shell
# has one.
now_seconds() {
  if [ -n "${EPOCHREALTIME:-}" ]; then
    printf '%s\n' "${EPOCHREALTIME/,/.}"
  else
    date +%s
  fi
}

# http_get URL prints the body of GET URL and fails when there is no HTTP
# answer within 2 s. It uses curl when installed, else node.
http_get() {
  if command -v curl >/dev/null 2>&1; then
    curl -sS --max-time 2 "$1" 2>/dev/null
  else
    node -e 'fetch(process.argv[1], {signal: AbortSignal.timeout(2000)})
      .then(r => r.text()).then(t => process.stdout.write(t))
      .catch(() => process.exit(1))' "$1" 2>/dev/null
  fi
}

# port_in_use PORT succeeds when something accepts connections on
# 127.0.0.1:PORT.
port_in_use() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# pick_port PREFERRED [TAKEN...] prints the first port from PREFERRED up
# that is free and not among TAKEN.
pick_port() {
  local port=$1 taken
  shift
  while :; do
    taken=0
    for t in "$@"; do [ "$t" = "$port" ] && taken=1; done
    if [ "$taken" = 0 ] && ! port_in_use "$port"; then
      printf '%s\n' "$port"
      return 0
    fi
    port=$((port + 1))
  done
}

# run_tool NAME ARG... is a script that is one of cmd/'s tools: it loads the
# settings (the environment, then .env: the environment wins), builds
# ./cmd/NAME into a temporary folder (never the checkout, which git would
# then see), runs it with ARG... from where the script was run (so relative
# paths stay the caller's), and exits with the tool's status.
# It sets the EXIT trap (to remove the binary) and never returns.
run_tool() {
  [ $# -ge 1 ] || die "run_tool: no tool named"
  local name=$1 status=0
  shift
  load_dotenv "$_common_root/.env"
  command -v go >/dev/null 2>&1 || die "go is not installed (https://go.dev/dl/)"
  _run_tool_bin=$(mktemp -d "${TMPDIR:-/tmp}/videocalls-$name.XXXXXX")
  trap 'rm -rf "$_run_tool_bin"' EXIT
  (cd "$_common_root" && go build -o "$_run_tool_bin/$name" "./cmd/$name") || die "could not build cmd/$name"
  "$_run_tool_bin/$name" "$@" || status=$?
  exit "$status"
}

# The Cloud Storage emulator the tests use (internal/emulatortest, storage.go:
# FakeGCSServerVersion says the same version).
fake_gcs_server_version=v1.56.1

# ensure_fake_gcs_server installs fake-gcs-server, a Go module reached
# through the Go module proxy, into the checkout's .bin/ (git ignores it)
# unless that version is there, and exports FAKE_GCS_SERVER with its path,
# where the tests look first. It fails when go install fails.
ensure_fake_gcs_server() {
  local bin=$_common_root/.bin
  if [ ! -x "$bin/fake-gcs-server" ] || [ "$(cat "$bin/fake-gcs-server.version" 2>/dev/null)" != "$fake_gcs_server_version" ]; then
    echo "== go install github.com/fsouza/fake-gcs-server@$fake_gcs_server_version (the tests' Cloud Storage emulator; first run only)"
    GOBIN=$bin go install "github.com/fsouza/fake-gcs-server@$fake_gcs_server_version" || return 1
    printf '%s\n' "$fake_gcs_server_version" >"$bin/fake-gcs-server.version"
  fi
  export FAKE_GCS_SERVER=$bin/fake-gcs-server
}
