#!/usr/bin/env bash
# Wire compatibility of the contract: proto/ must not break what the previous commit served
# (buf breaking, FILE rules; see buf.yaml). CI runs in a fresh clone of main, so the previous
# commit is the last one on main before this change. A clone needs a depth of at least 2; with no
# previous commit (depth 1, or the first commit) the check is skipped and says so. A change that
# must break the wire goes into a new package version (proto/synapse/admin/v2) beside v1.
set -euo pipefail
cd "$(dirname "$0")/.."

against="${1:-HEAD~1}"
if ! previous=$(git rev-parse --verify -q "${against}^{commit}"); then
  echo "buf breaking: SKIPPED, there is no commit ${against} to compare with (a shallow clone of depth 1 or the first commit; clone with --depth 2 or more)" >&2
  exit 0
fi
echo "buf breaking: proto/ against ${against} (${previous:0:12})"
npx buf breaking --against ".git#ref=${previous}"
