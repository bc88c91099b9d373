#!/usr/bin/env bash
# Tags a release of the action: scripts/release.sh vX.Y.Z
#
# Checks that it is given a new vX.Y.Z tag, that the work tree is clean and that dist/ is
# what the sources build (npm run bundle changes nothing in it: a runner runs dist/, not
# src/). Then it creates the annotated tag vX.Y.Z on HEAD and moves the major tag vX to the
# same commit, since workflows use the action as `@vX`. It pushes nothing: it prints the
# git push commands, for a person to run once they are sure.
set -euo pipefail
cd "$(dirname "$0")/.."

die() {
  echo "release: $*" >&2
  exit 1
}

[ "$#" = 1 ] || die "usage: scripts/release.sh vX.Y.Z (for example v1.2.3)"
tag=$1
if ! [[ $tag =~ ^v(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$ ]]; then
  die "'$tag' is not a vX.Y.Z tag (for example v1.2.3)"
fi
major="v${BASH_REMATCH[1]}"

if git rev-parse --quiet --verify "refs/tags/$tag" > /dev/null; then
  die "the tag $tag exists already"
fi
if [ -n "$(git status --porcelain)" ]; then
  git status --short >&2
  die "the work tree is not clean: commit or stash the changes above first"
fi

echo "Rebuilding dist/ (npm run bundle) to check that it is what the sources build..."
log=$(mktemp)
trap 'rm -f -- "$log"' EXIT
npm run -s bundle > "$log" 2>&1 || {
  cat "$log" >&2
  die "npm run bundle failed"
}
if [ -n "$(git status --porcelain -- dist)" ]; then
  git status --short -- dist >&2
  die "dist/ is not what the sources build: commit the rebuilt dist/ above, then run this again"
fi

commit=$(git rev-parse HEAD)
previous=$(git rev-parse --quiet --verify "refs/tags/$major^{commit}" || true)
# The newest release of this major version, by version order, before this one.
highest=$(git tag --list "$major.*.*" --sort=-version:refname | head -n 1)
git tag -a "$tag" -m "$tag" "$commit"
if [ -n "$highest" ] && [ "$(printf '%s\n%s\n' "$highest" "$tag" | sort -V | tail -n 1)" != "$tag" ]; then
  # A patch to an older line (v1.0.1 after v1.3.0): @v1 users must keep the newest code.
  echo "Tagged $tag at $(git rev-parse --short "$commit"); $major stays at $highest, which is newer."
  echo
  echo "To publish it:"
  echo "  git push origin refs/tags/$tag"
  exit 0
fi
# -f: the major tag moves with every release of that major version.
git tag -f "$major" "$commit" > /dev/null
if [ -n "$previous" ]; then
  echo "Tagged $tag at $(git rev-parse --short "$commit"); moved $major from $(git rev-parse --short "$previous")."
else
  echo "Tagged $tag and $major at $(git rev-parse --short "$commit")."
fi
echo
echo "To publish them:"
echo "  git push origin refs/tags/$tag"
echo "  git push --force origin refs/tags/$major"
