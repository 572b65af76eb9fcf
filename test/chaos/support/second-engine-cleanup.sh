#!/usr/bin/env bash
# Removes everything a chaos test's second Docker engine (second-engine.ts) made, and only that:
# its containers, its dockerd and containerd, every process in its network namespace, the processes
# of its containers (cgroup parent of its own), its mounts, the namespace (the veth pair goes with
# it) and its folder. Safe to run twice, and after a failed start.
#   second-engine-cleanup.sh DIR NETNS CGROUP_PARENT            clean up now
#   second-engine-cleanup.sh --after PID DIR NETNS CGROUP_PARENT  wait until process PID is gone (the test
#       process died before its afterAll), then clean up — the trap that runs when nothing else will.
set -u
if [ "${1:-}" = --after ]; then
  watched=$2
  shift 2
  while kill -0 "$watched" 2>/dev/null; do sleep 1; done
fi
dir=$1 netns=$2 cgroup=$3
[ -d "$dir" ] || [ -e "/var/run/netns/$netns" ] || exit 0
sock="$dir/docker.sock"

# Its containers, through the engine while it answers (their processes stop as the engine stops them).
if [ -S "$sock" ]; then
  ids=$(timeout 20 docker -H "unix://$sock" ps -aq 2>/dev/null || true)
  # shellcheck disable=SC2086 # one argument per id
  [ -n "$ids" ] && timeout 60 docker -H "unix://$sock" rm -f $ids >/dev/null 2>&1
fi

# Every process in its network namespace (dockerd, containerd, shims, docker-proxy, a platform left running).
if [ -e "/var/run/netns/$netns" ]; then
  ns="net:[$(stat -L -c %i "/var/run/netns/$netns")]"
  in_ns() { for p in /proc/[0-9]*; do [ "$(readlink "$p/ns/net" 2>/dev/null)" = "$ns" ] && echo "${p#/proc/}"; done; }
  pids=$(in_ns)
  # shellcheck disable=SC2086
  [ -n "$pids" ] && kill -TERM $pids 2>/dev/null
  for _ in $(seq 1 100); do
    [ -z "$(in_ns)" ] && break
    sleep 0.1
  done
  pids=$(in_ns)
  # shellcheck disable=SC2086
  [ -n "$pids" ] && kill -KILL $pids 2>/dev/null
fi

# What still runs in its containers' cgroups (they had been left running by a live-restore engine).
for ctl in /sys/fs/cgroup/*/; do
  [ -d "$ctl$cgroup" ] || continue
  find "$ctl$cgroup" -name cgroup.procs -exec cat {} + 2>/dev/null | xargs -r kill -KILL 2>/dev/null
done
for ctl in /sys/fs/cgroup/*/; do
  [ -d "$ctl$cgroup" ] && find "$ctl$cgroup" -depth -type d -exec rmdir {} \; 2>/dev/null
done

# Its mounts (dockerd bind-mounts its data root on itself; overlay and shm mounts of its containers), deepest first.
awk -v d="$dir" '$2 == d || index($2, d "/") == 1 { print $2 }' /proc/self/mounts | sort -r | while read -r m; do
  umount -l "$m" 2>/dev/null
done
ip netns del "$netns" 2>/dev/null
rm -rf "$dir"
exit 0
