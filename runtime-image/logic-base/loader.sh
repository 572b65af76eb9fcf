#!/bin/sh
# Logic sidecar loader: publishes the bundle baked into this image (/bundle) into
# the pod's shared volume, atomically, then stays running for the pod's life.
#
# Protocol (read by the runtime and by the startup probe):
#   $WS/releases/<id>/   a complete copy of the bundle, before anything points at it
#   $WS/current          symlink -> releases/<id>, replaced by rename(2), so readers see old or new, never half
#   $WS/.ready           created last: "the logic is in place" (the startup probe of releases made
#                        before the loader listened: test -f /workspace/.ready)
#   TCP $SIDECAR_LOADER_PORT  listened on after .ready exists (the startup probe: a tcpSocket connect)
# Safe to run again on a populated volume (a container restart).
#
# It runs on every deploy's critical path, before the startup probe can pass, under the sidecar's CPU
# limit: few processes (each fork and exec is dear here), shell builtins wherever one will do.
set -eu
trap 'exit 0' TERM INT

WS="${SIDECAR_WORKSPACE:-/workspace}"
PORT="${SIDECAR_LOADER_PORT:?the logic-base image sets it}"
SRC="${SIDECAR_BUNDLE:-/bundle}"
read -r id < /proc/sys/kernel/random/uuid

# A restart republishes: until the new copy is in place, "ready" must not be claimed. Leftovers of a
# start killed half-way go too (a link not yet renamed; copies under .tmp- names, as earlier loaders made).
rm -rf "$WS/.ready" "$WS"/releases/.tmp-* "$WS"/.current-*
mkdir -p "$WS/releases"

previous=""
if [ -L "$WS/current" ]; then previous="$(readlink "$WS/current")"; fi

# Nothing points at the copy until `current` flips to it; one cut short by a kill is neither the new
# release nor the previous one, so the next start removes it (below).
cp -R "$SRC" "$WS/releases/$id"

# Relative target: the same volume may be mounted at another path (tests, tools).
ln -s "releases/$id" "$WS/.current-$id"
mv -T "$WS/.current-$id" "$WS/current"

# Keep the new release and the one a running runtime may still be reading.
for dir in "$WS"/releases/*; do
  [ -e "$dir" ] || continue
  rel="releases/${dir##*/}"
  if [ "$rel" != "releases/$id" ] && [ "$rel" != "$previous" ]; then rm -rf "$dir"; fi
done

: > "$WS/.ready"
echo "loader: published $SRC as $WS/releases/$id"

# Stay up (native sidecar), listening on $PORT: the startup probe (tcpSocket) passes once the logic is in
# place, without a `docker exec` (~0.1 s of the engine's time on every deploy's path). `-ll`: one listener
# for good (no gap between connections in which something else in the pod could take the port); `-e true`:
# each connection is handed to `true`, which exits, so it is closed at once and whole (a client that never
# closes its side holds nothing). nc never ends by itself; if it does (it could not listen: the port
# taken), say so once and listen again a second later, never spinning. A trapped signal interrupts `wait`
# immediately.
said=""
while :; do
  nc -ll -p "$PORT" -e true </dev/null >/dev/null 2>&1 &
  wait $! || true
  [ -n "$said" ] || echo "loader: not listening on port $PORT (is something else in the pod using it?); trying again every second" >&2
  said=1
  sleep 1 &
  wait $!
done
