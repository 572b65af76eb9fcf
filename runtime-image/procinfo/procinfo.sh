#!/bin/sh
# The procinfo platform sidecar. With no argument it only waits (it is a native
# sidecar in a pod that shares one PID namespace); the worker runs
# `procinfo.sh snapshot` in it with docker exec to read the pod's processes.
#
# snapshot prints two samples half a second apart, so CPU use is measured over
# that interval. Per sample: `uptime <seconds>`, then one tab-separated line per
# process: `proc pid cpu-ticks(utime+stime) rss-kB cgroup-path cmdline`.
# The cgroup path names the container a process belongs to.

sample() {
  read up _ < /proc/uptime
  echo "uptime $up"
  for d in /proc/[0-9]*; do
    pid=${d#/proc/}
    stat=$(cat "$d/stat" 2>/dev/null) || continue
    # Fields after the command name, which is in parentheses and may contain spaces.
    set -- ${stat##*) }
    ticks=$(( ${12:-0} + ${13:-0} ))
    rss=0
    while read k v _; do
      if [ "$k" = "VmRSS:" ]; then rss=$v; fi
    done < "$d/status" 2>/dev/null
    cg=$(grep -m1 -E ':(memory|pids|cpu[a-z,]*|):' "$d/cgroup" 2>/dev/null | cut -d: -f3)
    # NULs, tabs and newlines would break the line format (and let an app forge lines); keep 4 KiB.
    cmd=$(tr '\000\t\n\r' '    ' < "$d/cmdline" 2>/dev/null | head -c 4096)
    printf 'proc\t%s\t%s\t%s\t%s\t%s\n' "$pid" "$ticks" "$rss" "$cg" "$cmd"
  done
}

if [ "$1" = "snapshot" ]; then
  sample
  sleep 0.5
  sample
  exit 0
fi

trap 'exit 0' TERM INT
while :; do
  sleep 86400 &
  wait $!
done
