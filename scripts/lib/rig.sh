#!/usr/bin/env bash
# The measuring tools' shared start (scripts/rttbudget, scripts/cost):
# a Firestore emulator on a free port, the server and the tool built, and
# the tool run against them (it starts the Auth emulator and the fake 100ms
# itself, through internal/rig). Sourced after common.sh, from the root.

# run_rig TOOL [ARGS...] runs ./cmd/TOOL with -server and ARGS; it exits
# with the tool's status and stops everything it started.
run_rig() {
  local tool=$1
  shift
  command -v go >/dev/null 2>&1 || die "go is not installed"
  command -v java >/dev/null 2>&1 || die "java is not installed: the Firestore emulator needs Java 17 or later"
  jar=${FIRESTORE_EMULATOR_JAR:-/usr/lib/google-cloud-sdk/platform/cloud-firestore-emulator/cloud-firestore-emulator.jar}
  [ -f "$jar" ] || die "the Firestore emulator jar is missing: $jar (set FIRESTORE_EMULATOR_JAR)"
  [ -x node_modules/.bin/firebase ] || die "firebase-tools is not installed: run npm ci at the repository root"

  # Its own process group (job control on), so that stopping it stops its
  # children too.
  set -m
  work=$(mktemp -d "${TMPDIR:-/tmp}/videocalls-$tool.XXXXXX")
  pids=()
  local status fs_port fs_pid i

  # shellcheck disable=SC2317 # called from the EXIT trap
  cleanup() {
    local status=$? pid
    trap - EXIT INT TERM
    disown -a 2>/dev/null || true
    for pid in "${pids[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
    sleep 0.5
    for pid in "${pids[@]}"; do kill -KILL -- "-$pid" 2>/dev/null || true; done
    rm -rf "$work"
    exit "$status"
  }
  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM

  fs_port=$(pick_port 18280)
  echo "== Firestore emulator on 127.0.0.1:$fs_port" >&2
  java -Duser.language=en -cp "$jar" com.google.cloud.datastore.emulator.firestore.CloudFirestore \
    --host=127.0.0.1 --port="$fs_port" >"$work/firestore.log" 2>&1 </dev/null &
  fs_pid=$!
  pids+=("$fs_pid")

  echo "== go build ./cmd/local/server ./cmd/$tool" >&2
  go build -o "$work/server" ./cmd/local/server
  go build -o "$work/$tool" "./cmd/$tool"

  for i in $(seq 1 600); do
    [ "$(http_get "http://127.0.0.1:$fs_port/" | tr -d '[:space:]')" = "Ok" ] && break
    kill -0 "$fs_pid" 2>/dev/null || { tail -n 20 "$work/firestore.log" >&2; die "the Firestore emulator exited"; }
    [ "$i" = 600 ] && die "the Firestore emulator is not ready after 60 s"
    sleep 0.1
  done

  export FIRESTORE_EMULATOR_HOST="127.0.0.1:$fs_port"
  # The Auth emulator is started by the tool (internal/rig)
  # unless this names one that answers.
  unset K_SERVICE FUNCTION_TARGET 2>/dev/null || true
  status=0
  "$work/$tool" -server "$work/server" "$@" || status=$?
  exit "$status"
}
