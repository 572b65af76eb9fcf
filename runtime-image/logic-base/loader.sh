#!/bin/sh
# Logic sidecar loader: publishes the bundle baked into this image (/bundle) into
# the pod's shared volume, atomically, then stays running for the pod's life.
#
# Protocol (read by the runtime and by the startup probe):
#   $WS/releases/<id>/   a complete copy of the bundle (copied under a temp name, then renamed)
#   $WS/current          symlink -> releases/<id>, replaced by rename(2), so readers see old or new, never half
#   $WS/.ready           created last: "the logic is in place" (startup probe: test -f /workspace/.ready)
# Safe to run again on a populated volume (a container restart).
set -eu
trap 'exit 0' TERM INT

WS="${SIDECAR_WORKSPACE:-/workspace}"
SRC="${SIDECAR_BUNDLE:-/bundle}"
id="$(date +%Y%m%d%H%M%S)-$(cat /proc/sys/kernel/random/uuid)"

# A restart republishes: until the new copy is in place, "ready" must not be claimed.
rm -f "$WS/.ready"
mkdir -p "$WS/releases"
# Leftovers of a start that was killed half-way.
rm -rf "$WS"/releases/.tmp-* "$WS"/.current-*

previous=""
if [ -L "$WS/current" ]; then previous="$(readlink "$WS/current")"; fi

cp -R "$SRC" "$WS/releases/.tmp-$id"
mv "$WS/releases/.tmp-$id" "$WS/releases/$id"

# Relative target: the same volume may be mounted at another path (tests, tools).
ln -s "releases/$id" "$WS/.current-$id"
mv -T "$WS/.current-$id" "$WS/current"

# Keep the new release and the one a running runtime may still be reading.
for dir in "$WS"/releases/*; do
  [ -e "$dir" ] || continue
  rel="releases/${dir##*/}"
  if [ "$rel" != "releases/$id" ] && [ "$rel" != "$previous" ]; then rm -rf "$dir"; fi
done

touch "$WS/.ready"
echo "loader: published $SRC as $WS/releases/$id"

# Stay up (native sidecar); a trapped signal interrupts `wait` immediately.
while :; do
  sleep 86400 &
  wait $!
done
