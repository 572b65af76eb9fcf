#include "out.h"
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define OUT_CAP (64 * 1024)
static char out_buf[OUT_CAP];
static size_t out_len;

/* A whole write: a pipe takes part of it, or a signal interrupts it; both just continue. */
static int write_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

void out_flush(void) {
  if (out_len == 0) return;
  if (write_all(STDOUT_FILENO, out_buf, out_len) < 0) {
    say("cannot write to stdout: %s", strerror(errno));
    exit(1);
  }
  out_len = 0;
}

void out_put(const void *bytes, size_t n) {
  const char *p = bytes;
  while (n > 0) {
    if (out_len == OUT_CAP) out_flush();
    size_t room = OUT_CAP - out_len, take = n < room ? n : room;
    memcpy(out_buf + out_len, p, take);
    out_len += take;
    p += take;
    n -= take;
  }
}

void out_str(const char *s) { out_put(s, strlen(s)); }

void say(const char *fmt, ...) {
  char msg[8192];
  int head = snprintf(msg, sizeof msg, "log-shipper: ");
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(msg + head, sizeof msg - (size_t)head - 1, fmt, ap);
  va_end(ap);
  size_t len = (size_t)head + (n < 0 ? 0 : (size_t)n);
  if (len > sizeof msg - 2) len = sizeof msg - 2;
  msg[len++] = '\n';
  (void)write_all(STDERR_FILENO, msg, len);
}

const char *errno_text(int err, const char *syscall, const char *path) {
  static char text[4096 + 256];
  const char *name = strerrorname_np(err);
  char desc[128];
  snprintf(desc, sizeof desc, "%s", strerror(err));
  desc[0] = (char)tolower((unsigned char)desc[0]);
  snprintf(text, sizeof text, "%s: %s, %s '%s'", name ? name : "E?", desc, syscall, path);
  return text;
}
