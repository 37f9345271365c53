#!/usr/bin/env bash
# The container image's build, install and smoke-test steps, in one place.
#
# The Dockerfile's RUN lines call this script and nothing else, and CI (which has
# no Docker) runs the same phases in a scratch directory (`ci`), so the image and
# CI cannot drift apart; tests/test_container.py checks the Dockerfile's RUN lines.
#
#   build-steps.sh toolchain                      gcc and the C headers when missing (the build stage)
#   build-steps.sh wheel SRC WHEELHOUSE           auditpipe's wheel (compiled matcher) and its dependencies' wheels
#   build-steps.sh install WHEELHOUSE PREFIX      a fresh virtualenv at PREFIX with those wheels and nothing else,
#                                                 plus PREFIX/bin/auditpipe-healthcheck
#   build-steps.sh smoke PREFIX VERSION           `auditpipe --version` (must print VERSION) and `auditpipe run` from
#                                                 an empty read-only directory, HOME read-only, as the image runs
#   build-steps.sh context REPO DEST              the Docker build context: the paths .dockerignore lets in, as tracked
#                                                 by git (what a clean checkout sends to `docker build`)
#   build-steps.sh ci REPO                        context, wheel, install and smoke in a scratch directory
#
# Environment: PYTHON (default python3) builds the wheel and the virtualenv.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PYTHON="${PYTHON:-python3}"

# Scratch directories to remove however the script ends.
scratch_dirs=()
trap 'rm -rf "${scratch_dirs[@]}"' EXIT

say() { printf 'build-steps: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

phase_toolchain() {
  if command -v gcc >/dev/null 2>&1; then
    say "gcc present: $(gcc -dumpfullversion)"
    return
  fi
  # Only the build stage needs a compiler; the runtime stage never runs this phase.
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends gcc libc6-dev >/dev/null
  rm -rf /var/lib/apt/lists/*
}

phase_wheel() {
  local src="$1" wheelhouse="$2"
  mkdir -p "$wheelhouse"
  # pip's cache (~/.cache/pip; a BuildKit cache mount in the Dockerfile) keeps the
  # downloaded build requirements (setuptools, Cython) and dependency wheels between
  # builds; auditpipe's own wheel, with the compiled matcher, is built every time.
  "$PYTHON" -m pip wheel --quiet --wheel-dir "$wheelhouse" "$src"
  local built
  built="$(find "$wheelhouse" -maxdepth 1 -name 'auditpipe-*.whl')"
  [ -n "$built" ] || die "no auditpipe wheel in $wheelhouse"
  # A wheel without the compiled matcher would silently run the pure-Python twin.
  local listing
  listing="$("$PYTHON" -m zipfile -l "$built")"
  grep -q '_fastmatch/_matcher_c\..*\.so' <<<"$listing" || die "$built has no compiled _fastmatch/_matcher_c extension"
  say "built $(basename "$built") and $(($(find "$wheelhouse" -maxdepth 1 -name '*.whl' | wc -l) - 1)) dependency wheels"
}

phase_install() {
  local wheelhouse="$1" prefix="$2"
  [ ! -e "$prefix" ] || die "$prefix exists: install wants a fresh virtualenv"
  "$PYTHON" -m venv --without-pip "$prefix"
  # Only the wheelhouse: no index, no other find-links, no cache left behind.
  env -u PIP_FIND_LINKS -u PIP_INDEX_URL -u PIP_EXTRA_INDEX_URL \
    "$PYTHON" -m pip --python "$prefix/bin/python" install --quiet --no-index --no-cache-dir \
    --find-links "$wheelhouse" auditpipe
  sed "1s|.*|#!$prefix/bin/python|" "$here/healthcheck.py" >"$prefix/bin/auditpipe-healthcheck"
  chmod 0755 "$prefix/bin/auditpipe-healthcheck"
  "$prefix/bin/python" -c 'import _fastmatch, sys; sys.exit(0 if _fastmatch.USING_EXTENSION else 1)' \
    || die "the installed auditpipe does not load its compiled matcher"
  say "installed into $prefix ($(find "$wheelhouse" -maxdepth 1 -name '*.whl' | wc -l) wheels, no pip)"
}

# Run "$@" with the image's environment, HOME and working directory read-only and
# only /tmp writable. As a non-root user (the Dockerfile's USER) file permissions
# already make it so; as root (CI) a private mount namespace makes every mount but
# /tmp read-only, which binds root too, as readOnlyRootFilesystem does.
_as_image() {
  local prefix="$1" home="$2" work="$3"
  shift 3
  local -a environment=(env -i "PATH=$prefix/bin:/usr/local/bin:/usr/bin:/bin" "HOME=$home"
    LANG=C.UTF-8 PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1)
  if [ "$(id -u)" != 0 ]; then
    [ ! -w "$home" ] && [ ! -w "$work" ] && [ ! -w "$prefix" ] || die "HOME, the work dir and $prefix must be read-only"
    (cd "$work" && "${environment[@]}" "$@")
    return
  fi
  command -v unshare >/dev/null 2>&1 || die "as root, the smoke test needs unshare(1) to make the filesystem read-only"
  unshare --mount --propagation private -- "${environment[@]}" bash -euc '
    prefix="$1" home="$2" work="$3"; shift 3
    mount --bind /tmp /tmp                      # /tmp stays writable (the image declares it a volume)
    mount -o remount,bind,ro /                  # everything else is read-only
    for dir in "$prefix" "$home" "$work"; do    # these live under /tmp here: read-only too
      mount --bind "$dir" "$dir" && mount -o remount,bind,ro "$dir"
    done
    cd "$work" && exec "$@"' _ "$prefix" "$home" "$work" "$@"
}

phase_smoke() {
  local prefix="$1" version="$2"
  [ -n "$version" ] || die "no expected version: docker build needs --build-arg VERSION=<auditpipe's version> (make image passes it)"
  local scratch
  scratch="$(mktemp -d)"
  scratch_dirs+=("$scratch")
  chmod 0755 "$scratch"
  mkdir "$scratch/home" "$scratch/work"
  chmod 0555 "$scratch/home" "$scratch/work"

  local out="$scratch/out" err="$scratch/err" code
  _as_image "$prefix" "$scratch/home" "$scratch/work" auditpipe --version >"$out" 2>"$err" || die "auditpipe --version exited $?: $(cat "$err")"
  [ "$(cat "$out")" = "auditpipe $version" ] || die "auditpipe --version printed '$(cat "$out")', expected 'auditpipe $version'"

  code=0
  _as_image "$prefix" "$scratch/home" "$scratch/work" auditpipe run >"$out" 2>"$err" || code=$?
  [ "$code" = 0 ] || die "auditpipe run exited $code: $(tail -5 "$err")"
  local events
  events="$(wc -l <"$out")"
  [ "$events" -gt 0 ] || die "auditpipe run wrote no events"
  head -1 "$out" | "$prefix/bin/python" -c 'import json, sys; assert json.loads(sys.stdin.read())["auditID"]' \
    || die "auditpipe run's first line is not an audit event"
  [ -s "$err" ] || die "auditpipe run printed no summary on stderr"

  _as_image "$prefix" "$scratch/home" "$scratch/work" auditpipe-healthcheck run >"$out" 2>"$err" \
    || die "auditpipe-healthcheck (default command) exited $?: $(cat "$out" "$err")"
  say "smoke ok: auditpipe $version, \`auditpipe run\` wrote $events events, healthcheck: $(cat "$out")"
}

phase_context() {
  local repo="$1" dest="$2"
  # .dockerignore is an allowlist: `*`, then `!path` for each path the build needs.
  local -a paths
  mapfile -t paths < <(sed -n 's|^!\([^*]*\)$|\1|p' "$repo/.dockerignore")
  [ "${#paths[@]}" -gt 0 ] || die "no !path lines in $repo/.dockerignore"
  mkdir -p "$dest"
  git -C "$repo" ls-files -z -- "${paths[@]}" | (cd "$repo" && xargs -0 cp --parents -t "$dest")
}

phase_ci() {
  local repo="$1" scratch version started=$SECONDS
  repo="$(cd "$repo" && pwd)"
  version="$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' "$repo/pipeline/__init__.py")"
  scratch="$(mktemp -d)"
  scratch_dirs+=("$scratch")
  chmod 0755 "$scratch"
  phase_context "$repo" "$scratch/src"
  phase_wheel "$scratch/src" "$scratch/wheels"
  phase_install "$scratch/wheels" "$scratch/prefix"
  phase_smoke "$scratch/prefix" "$version"
  say "ci: the image's steps passed in $((SECONDS - started)) s"
}

[ $# -ge 1 ] || die "usage: build-steps.sh toolchain | wheel SRC WHEELHOUSE | install WHEELHOUSE PREFIX | smoke PREFIX VERSION | context REPO DEST | ci REPO"
phase="$1"
shift
case "$phase:$#" in
  toolchain:0) phase_toolchain ;;
  wheel:2) phase_wheel "$@" ;;
  install:2) phase_install "$@" ;;
  smoke:2) phase_smoke "$@" ;;
  context:2) phase_context "$@" ;;
  ci:1) phase_ci "$@" ;;
  *) die "bad arguments: $phase $*" ;;
esac
