#!/bin/sh
# The procinfo platform sidecar. With no argument it only waits (it is a native
# sidecar in a pod that shares one PID namespace); the worker runs
# `procinfo.sh snapshot` in it with docker exec to read the pod's processes.
#
# snapshot prints two samples half a second apart, so CPU use is measured over
# that interval. Per sample: `uptime <seconds>`, then one tab-separated line per
# process: `proc pid cpu-ticks(utime+stime) rss-kB cgroup-path cmdline`.
# The cgroup path names the container a process belongs to.

# Only shell builtins per process (no cat, grep, tr: no fork): the sidecar runs with a small CPU
# quota (core/src/platform-sidecars.ts, 50m), and a fork per /proc file made one snapshot cost
# seconds of that quota, tens of seconds on a loaded host, past the worker's snapshot timeout.
tab=$(printf '\t')
cr=$(printf '\r')
nl='
'
sample() {
  read up _ < /proc/uptime
  echo "uptime $up"
  for d in /proc/[0-9]*; do
    pid=${d#/proc/}
    read -r stat < "$d/stat" 2>/dev/null || continue
    # Fields after the command name, which is in parentheses and may contain spaces.
    set -- ${stat##*) }
    ticks=$(( ${12:-0} + ${13:-0} ))
    rss=0
    while read k v _; do
      if [ "$k" = "VmRSS:" ]; then rss=$v; fi
    done < "$d/status" 2>/dev/null
    # The path of the first line of the memory, pids or cpu controller (v1) or the unified one (v2).
    cg=
    while IFS= read -r line; do
      rest=${line#*:}
      case ${rest%%:*} in
        memory | pids | cpu | cpu[a-z,]* | '')
          cg=${rest#*:}
          cg=${cg%%:*}
          break
          ;;
      esac
    done < "$d/cgroup" 2>/dev/null
    # Arguments are NUL-separated; kept to 4 KiB. Tabs and newlines would break the line format
    # (and let an app forge lines): they become spaces.
    cmd=
    while [ ${#cmd} -lt 4096 ] && { IFS= read -r -n 4096 -d '' arg || [ -n "$arg" ]; }; do
      cmd="$cmd$arg "
    done < "$d/cmdline" 2>/dev/null
    cmd=${cmd:0:4096}
    cmd=${cmd//"$tab"/ }
    cmd=${cmd//"$cr"/ }
    cmd=${cmd//"$nl"/ }
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
