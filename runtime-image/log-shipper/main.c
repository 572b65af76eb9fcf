/*
 * The log shipper platform sidecar (`sidecar/log-shipper`): follows every file under
 * SIDECAR_LOGS_DIR (/var/log/app, the app's log volume, mounted read-only here) and prints each
 * line on its own stdout as one JSON object, `{"file":"app.log","line":"...","ts":"<ISO time it
 * was read>"}`. The node's log agent (the worker's LogCollector, or a cluster's) collects stdout:
 * the pod never talks to the platform. Offsets are saved in SIDECAR_LOGS_STATE_DIR after each
 * batch is written, so a restarted shipper resumes (at-least-once: a batch written just before a
 * kill is shipped again). On SIGTERM, which a native sidecar declared first gets only after every
 * other container exited, it reads every file one last time (a last line without newline
 * included), then exits 0.
 * A static C program with libc only (docs/sidecars.md): it runs in every pod, so it must be small.
 */
#include "follower.h"
#include "out.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *state_dir;
static char state_file[PATH_MAX], state_tmp[PATH_MAX + 8];

static const char *env_or(const char *name, const char *fallback) {
  const char *v = getenv(name);
  return v ? v : fallback;
}

/* setTimeout(fn, Number(value)): anything that is not a number from 1 to 2^31 - 1 ms waits 1 ms. */
static long poll_ms(void) {
  const char *v = getenv("SIDECAR_LOGS_POLL_MS");
  if (!v) return 250;
  char *end;
  double ms = strtod(v, &end);
  while (*end == ' ' || (*end >= '\t' && *end <= '\r')) end++;
  if (end == v || *end) ms = 0; /* NaN, or the empty string (0) */
  return ms >= 1 && ms <= 2147483647.0 ? (long)ms : 1;
}

static void load_offsets(struct offsets *into) {
  int fd = open(state_file, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno != ENOENT) say("ignoring unreadable %s: %s", state_file, errno_text(errno, "open", state_file));
    return;
  }
  char *json = NULL;
  size_t len = 0, cap = 0;
  for (;;) {
    if (len == cap && !(json = realloc(json, cap = cap ? 2 * cap : 4096))) abort();
    ssize_t n = read(fd, json + len, cap - len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      say("ignoring unreadable %s: %s", state_file, errno_text(errno, "read", state_file));
      len = 0;
      break;
    }
    if (n == 0) break;
    len += (size_t)n;
  }
  close(fd);
  size_t error_at;
  if (len > 0 && offsets_parse(json, len, into, &error_at) != 0)
    say("ignoring unreadable %s: invalid JSON at position %zu", state_file, error_at);
  else if (len == 0 && json) say("ignoring unreadable %s: Unexpected end of JSON input", state_file);
  free(json);
}

static int mkdirs(char *path) {
  for (char *p = path + 1; *p; p++) {
    if (*p != '/') continue;
    *p = 0;
    int r = mkdir(path, 0777);
    *p = '/';
    if (r != 0 && errno != EEXIST) return -1;
  }
  return mkdir(path, 0777) != 0 && errno != EEXIST ? -1 : 0;
}

/* Written to a temporary file and renamed: a kill mid-write leaves the previous offsets. */
static void save_offsets(const char *json) {
  static int warned;
  char dir[PATH_MAX], why[PATH_MAX + 256] = "";
  snprintf(dir, sizeof dir, "%s", state_dir);
  int fd = -1;
  size_t len = strlen(json), done = 0;
  if (mkdirs(dir) != 0) snprintf(why, sizeof why, "%s", errno_text(errno, "mkdir", state_dir));
  else if ((fd = open(state_tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666)) < 0)
    snprintf(why, sizeof why, "%s", errno_text(errno, "open", state_tmp));
  else {
    while (done < len) {
      ssize_t n = write(fd, json + done, len - done);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) break;
      done += (size_t)n;
    }
    if (done < len) snprintf(why, sizeof why, "%s", errno_text(errno, "write", state_tmp));
    if (close(fd) != 0 && !why[0]) snprintf(why, sizeof why, "%s", errno_text(errno, "close", state_tmp));
    if (!why[0] && rename(state_tmp, state_file) != 0)
      snprintf(why, sizeof why, "%s", errno_text(errno, "rename", state_tmp));
  }
  if (why[0] && !warned) say("cannot save offsets in %s (a restart will ship files again): %s", state_dir, why);
  if (why[0]) warned = 1;
}

static struct follower follower;
static char *saved;

/* One scan: print its lines, and only once they are written, save the offsets past them (when they moved). */
static int pass(int final) {
  int more = follower_scan(&follower, final);
  out_flush();
  char *json = offsets_json(&follower.state);
  if (!saved || strcmp(json, saved) != 0) {
    save_offsets(json);
    free(saved);
    saved = json;
  } else free(json);
  return more;
}

static volatile sig_atomic_t stopping;
static void stop(int sig) {
  (void)sig;
  stopping = 1;
}

int main(void) {
  const char *dir = env_or("SIDECAR_LOGS_DIR", "/var/log/app");
  state_dir = env_or("SIDECAR_LOGS_STATE_DIR", "/var/lib/log-shipper");
  size_t n = strlen(state_dir);
  while (n > 1 && state_dir[n - 1] == '/') n--;
  snprintf(state_file, sizeof state_file, "%.*s/offsets.json", (int)n, n ? state_dir : ".");
  snprintf(state_tmp, sizeof state_tmp, "%s.tmp", state_file);
  long sleep_ms = poll_ms();

  follower.dir = dir;
  load_offsets(&follower.state);

  /* The log agent going away shows as EPIPE on the next write (and ends the shipper there), not as a signal. */
  signal(SIGPIPE, SIG_IGN);
  /* Once each, like process.once: a second SIGTERM or SIGINT during the last read ends the process. */
  struct sigaction sa = {0};
  sa.sa_handler = stop;
  sa.sa_flags = SA_RESTART | SA_RESETHAND;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  sigset_t stop_signals, unblocked;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);

  say("following %s, offsets in %s", dir, state_file);
  while (!stopping) {
    int more = pass(0);
    if (more) continue;
    /* Sleep until the next poll or a stop signal: blocked until ppoll unblocks them, so none slips in between. */
    sigprocmask(SIG_BLOCK, &stop_signals, &unblocked);
    if (!stopping) {
      struct timespec wait = {sleep_ms / 1000, (sleep_ms % 1000) * 1000000L};
      ppoll(NULL, 0, &wait, &unblocked);
    }
    sigprocmask(SIG_SETMASK, &unblocked, NULL);
  }
  /* The writers have exited (native sidecar order): ship everything that is left, then exit 0. */
  while (pass(1));
  return 0;
}
