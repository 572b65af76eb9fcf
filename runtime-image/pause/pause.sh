#!/bin/sh
# The pod's network holder: it only has to exist. As PID 1 it gets no default
# signal handlers, so SIGTERM would be ignored without this trap.
trap 'exit 0' TERM INT
# `sleep & wait` rather than a foreground sleep: a trapped signal interrupts
# `wait` at once, while a foreground sleep would delay the trap until it ends.
while :; do
  sleep 86400 &
  wait $!
done
