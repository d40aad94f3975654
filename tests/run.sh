#!/usr/bin/env bash
# The whole test suite, as CI runs it: `bash tests/run.sh [JOB...]`.
#
# Makes its own virtual environments under .venv-test/ (git-ignored; reused on the next run,
# `rm -rf .venv-test` for a clean start) and installs what each job needs with pip.
#
# Jobs (all by default, in this order):
#   main   Python 3.11, `pip install -e '.[dev,torch,jax,keras]' torch==2.13.0`, newest protobuf:
#          ruff check, ruff format --check, mypy, every test. Installs Debian's chromium (as
#          root, with apt-get) if /usr/bin/chromium is missing, for the `browser` tests.
#   py310  Python 3.10 (oldest supported), `.[test]`: tests not marked `framework` or `browser`.
#   py313  Python 3.13 (newest supported), `.[test]`: tests not marked `framework` or `browser`.
#   tf     Python 3.11 with tensorflow-cpu: the tests marked `tensorflow` (Keras's own
#          TensorBoard callback as the reference for tblog's).
#   integration  Python 3.11, `.[test]` + the frameworks of tests/integration/requirements.txt
#          (exact versions, torch pinned by tests/integration/constraints.txt): each runs a
#          tiny real job with its own writer and with tblog.patch(); the two log directories
#          must read the same in TensorBoard (tests marked `integration`).
#   minpb  Python 3.10 with the oldest protobuf that pyproject allows (`protobuf>=X` read from
#          pyproject.toml) and the test extra without tensorboard/tensorboardX (they need
#          protobuf>=6.31): tests marked none of `framework`, `tensorboard`, `browser`.
#
# Pythons come from pyenv ($PYENV_ROOT, default ~/.pyenv) or from python3.X on PATH.
# A missing Python fails the job under CI=true; elsewhere the job is skipped, loudly.
# Every job that runs pytest fails when pytest fails, collects nothing (exit 5) or passes no test.
# Exit status: 0 only if every job that ran passed.

set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT" || exit 2

VENVS="$ROOT/.venv-test"
LOGS="$VENVS/logs"
mkdir -p "$LOGS"
PYENV_ROOT="${PYENV_ROOT:-$HOME/.pyenv}"
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 PYTHONDONTWRITEBYTECODE=1
export TBLOG_FAIL_IF_NONE_PASSED=1 # tests/conftest.py: a pytest run with no passed test fails

ALL_JOBS=(main py310 py313 minpb tf integration)
if [ $# -gt 0 ]; then JOBS=("$@"); else JOBS=("${ALL_JOBS[@]}"); fi

# ---------------------------------------------------------------------------- bookkeeping

RESULT_NAMES=()
RESULT_STATUS=()
RESULT_SECONDS=()
RESULT_NOTE=()
FAILED=0

record() { # record NAME STATUS SECONDS NOTE
  RESULT_NAMES+=("$1")
  RESULT_STATUS+=("$2")
  RESULT_SECONDS+=("$3")
  RESULT_NOTE+=("$4")
  if [ "$2" = FAIL ]; then FAILED=1; fi
}

banner() { printf '\n\033[1m==== %s\033[0m\n' "$*"; }

# step NAME TIMEOUT_S CMD...: runs CMD with a time limit, output to the console and a log.
step() {
  local name=$1 limit=$2 start=$SECONDS rc
  shift 2
  banner "$name: $*"
  if declare -F "$1" >/dev/null; then # a shell function: no timeout (pip has its own)
    "$@" 2>&1 | tee "$LOGS/$name.log"
  else
    timeout --kill-after=30 "$limit" "$@" 2>&1 | tee "$LOGS/$name.log"
  fi
  rc=${PIPESTATUS[0]}
  local took=$((SECONDS - start))
  case $rc in
    0) record "$name" PASS "$took" "" ;;
    124 | 137) record "$name" FAIL "$took" "timed out after ${limit}s" ;;
    *) record "$name" FAIL "$took" "exit $rc" ;;
  esac
  return "$rc"
}

find_python() { # find_python 3.10 -> path of a python3.10, or nothing
  local want=$1 cand
  cand=$(find "$PYENV_ROOT/versions" -maxdepth 3 -path "*/versions/$want.*/bin/python$want" \
    2>/dev/null | sort -V | tail -n 1)
  if [ -z "$cand" ]; then cand=$(command -v "python$want" || true); fi
  if [ -n "$cand" ] && "$cand" -c 'import venv' >/dev/null 2>&1; then echo "$cand"; fi
}

need_python() { # need_python JOB 3.10 -> sets PY, or records a skip/fail and returns 1
  local job=$1 want=$2
  PY=$(find_python "$want")
  if [ -n "$PY" ]; then return 0; fi
  local msg="no Python $want (looked in $PYENV_ROOT/versions and PATH)"
  if [ "${CI:-}" = true ]; then
    echo "ERROR: $job: $msg" >&2
    record "$job" FAIL 0 "$msg"
  else
    echo "WARNING: $job: SKIPPED: $msg; install it (pyenv install $want) to run this job" >&2
    record "$job" SKIP 0 "$msg"
  fi
  return 1
}

# make_venv NAME PYTHON PIP-ARGS...: creates (or reuses) .venv-test/NAME and pip-installs.
make_venv() {
  local name=$1 py=$2 dir="$VENVS/$1"
  shift 2
  local want have
  want=$("$py" -c 'import sys; print(sys.version.split()[0])')
  have=$("$dir/bin/python" -c 'import sys; print(sys.version.split()[0])' 2>/dev/null || true)
  if [ "$want" != "$have" ]; then
    rm -rf "$dir"
    "$py" -m venv "$dir" || return 1
  fi
  "$dir/bin/python" -m pip install -q --progress-bar off "$@"
}

# pytest_job NAME VENV TIMEOUT_S PYTEST-ARGS...
pytest_job() {
  local name=$1 venv=$2 limit=$3
  shift 3
  step "$name" "$limit" "$VENVS/$venv/bin/python" -m pytest -p no:cacheprovider \
    --junitxml="$LOGS/$name.xml" "$@"
}

pyproject_value() { # pyproject_value min-protobuf|test-deps-without-tensorboard
  "$BOOT_PY" - "$1" <<'EOF'
import re, sys, tomllib
with open("pyproject.toml", "rb") as f:
    project = tomllib.load(f)["project"]
what = sys.argv[1]
name_of = lambda req: re.match(r"\s*([A-Za-z0-9_.\-]+)", req).group(1).lower()
if what == "min-protobuf":
    floors = [
        m.group(1)
        for req in project["dependencies"]
        if name_of(req) == "protobuf"
        for m in [re.search(r">=\s*([0-9][0-9A-Za-z.]*)", req)]
        if m
    ]
    if len(floors) != 1:
        sys.exit("pyproject.toml: expected one 'protobuf>=X' in [project] dependencies")
    print(floors[0])
elif what == "test-deps-without-tensorboard":
    reqs = project["optional-dependencies"]["test"]
    print("\n".join(r for r in reqs if name_of(r) not in ("tensorboard", "tensorboardx")))
EOF
}

# ---------------------------------------------------------------------------- jobs

# Debian's Chromium for tests/test_browser.py (Playwright drives it and downloads no browser).
need_chromium() {
  if [ -x /usr/bin/chromium ]; then
    /usr/bin/chromium --version
    return
  fi
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "ERROR: the browser tests need Debian's chromium at /usr/bin/chromium;" \
      "install it as root: apt-get install -y --no-install-recommends chromium fonts-liberation" >&2
    return 1
  fi
  apt-get update -q &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
      chromium fonts-liberation &&
    /usr/bin/chromium --version
}

job_main() {
  need_python main 3.11 || return
  # torch==2.13.0 is the local CPU wheel (an unpinned torch pulls GBs of CUDA packages).
  step main-install 1200 make_venv py311 "$PY" -e '.[dev,torch,jax,keras]' 'torch==2.13.0' || return
  local bin="$VENVS/py311/bin"
  step ruff-check 300 "$bin/ruff" check .
  step ruff-format 300 "$bin/ruff" format --check .
  step mypy 600 "$bin/mypy" tblog adapters
  step main-chromium 900 need_chromium # if it fails, the browser tests fail (they do not skip)
  # Everything optional is installed here: a test skipped for a missing import fails.
  export TBLOG_NO_IMPORT_SKIPS=1
  # The pinned protobuf compiler for tests/test_proto.py's freshness checks (its version is
  # read from scripts/gen_protos.py; --no-deps keeps the newest protobuf, see that script).
  local protoc_pin
  protoc_pin=$(sed -n 's/^GRPCIO_TOOLS_VERSION = "\(.*\)"$/\1/p' scripts/gen_protos.py 2>/dev/null)
  if [ -n "$protoc_pin" ]; then
    step main-protoc 600 "$bin/python" -m pip install -q --no-deps "grpcio-tools==$protoc_pin" &&
      export TBLOG_REQUIRE_PROTOC=1
  fi
  pytest_job main-pytest py311 2400 -m 'not tensorflow and not integration'
  unset TBLOG_NO_IMPORT_SKIPS TBLOG_REQUIRE_PROTOC
}

job_tf() { # the Keras callback on the TensorFlow backend, against Keras's own callback
  need_python tf 3.11 || return
  step tf-install 1200 make_venv tf "$PY" -e '.[test,keras]' tensorflow-cpu || return
  export KERAS_BACKEND=tensorflow
  pytest_job tf-pytest tf 1200 -m tensorflow
  unset KERAS_BACKEND
}

job_integration() { # real frameworks, each run with its own writer and with tblog
  need_python integration 3.11 || return
  step integration-install 1200 make_venv integration "$PY" -e '.[test]' \
    -r tests/integration/requirements.txt -c tests/integration/constraints.txt || return
  export TBLOG_NO_IMPORT_SKIPS=1 # every framework is installed: a skip fails the job
  pytest_job integration-pytest integration 1800 -m integration tests/integration
  unset TBLOG_NO_IMPORT_SKIPS
}

job_core() { # job_core JOB 3.X
  local job=$1
  need_python "$job" "$2" || return
  step "$job-install" 900 make_venv "$job" "$PY" -e '.[test]' || return
  pytest_job "$job-pytest" "$job" 1200 -m 'not framework and not browser'
}

job_minpb() {
  local floor deps
  need_python minpb 3.10 || return
  floor=$(pyproject_value min-protobuf) || {
    record minpb FAIL 0 "could not read protobuf>=X from pyproject.toml"
    return
  }
  mapfile -t deps < <(pyproject_value test-deps-without-tensorboard)
  step minpb-install 900 make_venv minpb "$PY" -e . "protobuf==$floor" "${deps[@]}" || return
  local have
  have=$("$VENVS/minpb/bin/python" -c 'import google.protobuf as p; print(p.__version__)')
  if ! "$VENVS/minpb/bin/python" -c 'import sys; from packaging.version import Version as V
sys.exit(V(sys.argv[1]) != V(sys.argv[2]))' "$have" "$floor"; then
    record minpb-install FAIL 0 "wanted protobuf $floor, got $have"
    return
  fi
  banner "minpb: protobuf $have (the floor in pyproject.toml)"
  pytest_job minpb-pytest minpb 1200 -m 'not framework and not tensorboard and not browser'
}

# A Python with tomllib, for reading pyproject.toml.
BOOT_PY=$(find_python 3.11)
if [ -z "$BOOT_PY" ]; then BOOT_PY=$(command -v python3); fi

TOTAL_START=$SECONDS
for job in "${JOBS[@]}"; do
  job_start=$SECONDS
  case $job in
    main) job_main ;;
    py310) job_core py310 3.10 ;;
    py313) job_core py313 3.13 ;;
    minpb) job_minpb ;;
    tf) job_tf ;;
    integration) job_integration ;;
    *)
      echo "unknown job '$job' (jobs: ${ALL_JOBS[*]})" >&2
      exit 2
      ;;
  esac
  record "[$job]" TOTAL $((SECONDS - job_start)) ""
done

# ---------------------------------------------------------------------------- summary

banner "summary"
passed=0 failed=0 skipped=0
for i in "${!RESULT_NAMES[@]}"; do
  name=${RESULT_NAMES[$i]} status=${RESULT_STATUS[$i]} note=${RESULT_NOTE[$i]}
  counts=""
  if [ "$status" = TOTAL ]; then
    printf '  %-16s %-5s %6ss\n' "$name" "" "${RESULT_SECONDS[$i]}"
    continue
  fi
  if [[ $name == *-pytest ]]; then
    xml="$LOGS/$name.xml"
    if [ -f "$xml" ] && read -r p f s < <("$BOOT_PY" - "$xml" <<'EOF'
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
suites = [root] if root.tag == "testsuite" else list(root)
t = sum(int(s.get("tests", 0)) for s in suites)
f = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites)
s = sum(int(s.get("skipped", 0)) for s in suites)
print(t - f - s, f, s)
EOF
    ); then
      counts="$p passed, $f failed, $s skipped"
      passed=$((passed + p)) skipped=$((skipped + s))
      if [ "$status" = FAIL ] && [ "$f" -eq 0 ]; then failed=$((failed + 1)); fi
      failed=$((failed + f))
    elif [ "$status" = FAIL ]; then
      failed=$((failed + 1))
    fi
  elif [ "$status" = FAIL ]; then
    failed=$((failed + 1))
  fi
  printf '  %-16s %-5s %6ss  %s\n' "$name" "$status" "${RESULT_SECONDS[$i]}" "${counts}${counts:+${note:+; }}${note}"
done
printf '  %-16s %-5s %6ss\n' "all" "" $((SECONDS - TOTAL_START))
echo
echo "total: $passed passed, $failed failed, $skipped skipped"
exit "$FAILED"
