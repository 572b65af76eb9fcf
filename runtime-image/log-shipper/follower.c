#include "follower.h"
#include "out.h"
#include "text.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void *grow(void *p, size_t size) {
  void *q = realloc(p, size);
  if (!q) abort(); /* out of memory: the container's limit; nothing sensible to do but restart */
  return q;
}

static char *copy(const char *s) {
  char *c = strdup(s);
  if (!c) abort();
  return c;
}

/* `dir/rel` (the directory itself for an empty rel; "." for an empty dir, like path.join). */
static void path_of(const struct follower *f, const char *rel, char *out, size_t cap) {
  const char *dir = f->dir[0] ? f->dir : ".";
  size_t n = strlen(dir);
  int slash = n > 0 && dir[n - 1] == '/';
  if (!rel[0]) snprintf(out, cap, "%s", dir);
  else snprintf(out, cap, "%s%s%s", dir, slash ? "" : "/", rel);
}

static void warn_once(struct follower *f, const char *key, const char *fmt, const char *a, const char *b) {
  for (size_t i = 0; i < f->warned_n; i++)
    if (strcmp(f->warned[i], key) == 0) return;
  f->warned = grow(f->warned, (f->warned_n + 1) * sizeof *f->warned);
  f->warned[f->warned_n++] = copy(key);
  say(fmt, a, b);
}

/* ---- Listing: every regular file, sorted by name per directory, symlinks not followed. ---- */

struct names {
  char **v;
  size_t n, total;
};

struct dir_entry {
  char *name;
  int is_file, is_dir;
};

static int by_name(const void *a, const void *b) {
  return js_compare(((const struct dir_entry *)a)->name, ((const struct dir_entry *)b)->name);
}

/* A name as Node reads it from the directory: invalid UTF-8 becomes U+FFFD (and such a name then opens nothing). */
static char *node_name(const char *raw) {
  size_t n = strlen(raw);
  uint16_t *u = grow(NULL, (n + 1) * sizeof *u);
  char *s = grow(NULL, 3 * n + 1);
  s[utf8_from_utf16(u, utf16_from_utf8((const unsigned char *)raw, n, u), s)] = 0;
  free(u);
  return s;
}

static void walk(struct follower *f, const char *rel, int depth, struct names *out) {
  char path[PATH_MAX];
  path_of(f, rel, path, sizeof path);
  DIR *d = opendir(path);
  if (!d) {
    /* A missing directory is an app that has written nothing yet. */
    if (errno != ENOENT) {
      const char *why = errno_text(errno, "scandir", path);
      warn_once(f, rel, "cannot list %s: %s", rel[0] ? rel : ".", why);
    }
    return;
  }
  struct dir_entry *entries = NULL;
  size_t n = 0;
  for (struct dirent *e; (e = readdir(d));) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    unsigned char type = e->d_type;
    if (type == DT_UNKNOWN) {
      struct stat st;
      type = fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ? DT_UNKNOWN
             : S_ISREG(st.st_mode)                                     ? DT_REG
             : S_ISDIR(st.st_mode)                                     ? DT_DIR
                                                                       : DT_UNKNOWN;
    }
    entries = grow(entries, (n + 1) * sizeof *entries);
    entries[n++] = (struct dir_entry){node_name(e->d_name), type == DT_REG, type == DT_DIR};
  }
  closedir(d);
  qsort(entries, n, sizeof *entries, by_name);
  for (size_t i = 0; i < n; i++) {
    char child[PATH_MAX];
    if (rel[0]) snprintf(child, sizeof child, "%s/%s", rel, entries[i].name);
    else snprintf(child, sizeof child, "%s", entries[i].name);
    if (entries[i].is_file) {
      if (out->n < MAX_FILES) out->v[out->n++] = copy(child);
      out->total++;
    } else if (entries[i].is_dir && depth < MAX_DEPTH) walk(f, child, depth + 1, out);
    free(entries[i].name);
  }
  free(entries);
}

static struct names list(struct follower *f) {
  struct names out = {grow(NULL, MAX_FILES * sizeof(char *)), 0, 0};
  walk(f, "", 1, &out);
  if (out.total > MAX_FILES) {
    char max[16];
    snprintf(max, sizeof max, "%d", MAX_FILES);
    warn_once(f, "*", "more than %s files; following the first %s by name", max, max);
  }
  return out;
}

/* ---- Output: one JSON object per line, as JSON.stringify prints it. ---- */

static uint16_t units[MAX_LINE_BYTES];
static char escaped[6 * MAX_LINE_BYTES];

struct shipping {
  const char *file_json; /* the file name's JSON string body */
  size_t file_units;
  char ts[96];
};

/* Escapes (control characters) can make the JSON longer than the line, so the line is cut to fit, ending in "…". */
static void ship(const struct shipping *s, const unsigned char *line, size_t n) {
  size_t k = utf16_from_utf8(line, n, units);
  size_t fixed = s->file_units + 53; /* {"file":"","line":"","ts":""} and the 24-character time */
  size_t len = json_units(units, k);
  int cut = 0;
  while (fixed + len + (size_t)cut > MAX_JSON_UNITS && k > 0) {
    k = (size_t)((double)k * 0.9); /* line.slice(0, Math.floor(line.length * 0.9)), in UTF-16 units */
    cut = 1;
    len = json_units(units, k);
  }
  out_str("{\"file\":\"");
  out_str(s->file_json);
  out_str("\",\"line\":\"");
  out_put(escaped, json_escape(units, k, escaped));
  if (cut) out_str("\xe2\x80\xa6");
  out_str("\",\"ts\":\"");
  out_str(s->ts);
  out_str("\"}\n");
}

/* Date#toISOString of now. */
static void iso_now(char out[96]) {
  struct timespec now;
  struct tm tm;
  clock_gettime(CLOCK_REALTIME, &now);
  gmtime_r(&now.tv_sec, &tm);
  snprintf(out, 96, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
           tm.tm_hour, tm.tm_min, tm.tm_sec, now.tv_nsec / 1000000);
}

/* ---- Reading: the new bytes of one file, split into lines as they stream in. ---- */

#define CHUNK (64 * 1024)
/* A chunk plus the start of a line carried over from the previous one (at most MAX_LINE_BYTES). */
static unsigned char buf[CHUNK + MAX_LINE_BYTES + 1];

struct read_result {
  double offset; /* after the last shipped byte */
  size_t bytes;  /* read, counted against the budget */
};

/*
 * Ships the lines in buf[0, len) (without `\n` or a trailing `\r`) and returns how many bytes
 * they used. A line longer than MAX_LINE_BYTES is cut into pieces at UTF-8 character boundaries
 * even before its end is read (its end is past `len` anyway); a line without newline waits for
 * more bytes unless this is the end of the file's read and `flush` is set.
 */
static size_t split_lines(const struct shipping *s, size_t len, int at_end, int flush) {
  size_t start = 0;
  for (;;) {
    unsigned char *nl = memchr(buf + start, '\n', len - start);
    size_t end = nl ? (size_t)(nl - buf) : len;
    if (end - start > MAX_LINE_BYTES) {
      size_t cut = start + MAX_LINE_BYTES;
      /* Back off to the first byte of a character (continuation bytes are 10xxxxxx). */
      while (cut > start && (buf[cut] & 0xc0) == 0x80) cut--;
      if (cut == start) cut = start + MAX_LINE_BYTES; /* not UTF-8 at all: cut anywhere */
      ship(s, buf + start, cut - start);
      start = cut;
      continue;
    }
    if (!nl) {
      if (at_end && flush && start < len) {
        ship(s, buf + start, len - start - (buf[len - 1] == '\r'));
        start = len;
      }
      return start;
    }
    ship(s, buf + start, end - start - (end > start && buf[end - 1] == '\r'));
    start = end + 1;
  }
}

static struct read_result read_from(struct follower *f, const char *file, double from, double size,
                                    size_t budget, int final) {
  struct read_result r = {from, 0};
  double want = size - from < (double)budget ? size - from : (double)budget;
  if (want <= 0) return r;
  size_t length = (size_t)want;
  char path[PATH_MAX];
  path_of(f, file, path, sizeof path);
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) {
    warn_once(f, file, "cannot read %s: %s", file, errno_text(errno, "open", path));
    return r;
  }
  size_t n = strlen(file);
  uint16_t *u = grow(NULL, (n + 1) * sizeof *u);
  char *file_json = grow(NULL, 6 * n + 1);
  struct shipping s = {file_json, 0, ""};
  size_t k = utf16_from_utf8((const unsigned char *)file, n, u);
  s.file_units = json_units(u, k);
  file_json[json_escape(u, k, file_json)] = 0;
  free(u);

  size_t got = 0, held = 0, consumed = 0;
  for (;;) {
    size_t ask = length - got < CHUNK ? length - got : CHUNK;
    ssize_t m = ask ? pread(fd, buf + held, ask, (off_t)from + (off_t)got) : 0;
    if (m < 0 && errno == EINTR) continue;
    if (m < 0) {
      /* What was shipped stays shipped (its offset is kept); the rest is read again next time. */
      warn_once(f, file, "cannot read %s: %s", file, errno_text(errno, "read", path));
      break;
    }
    if (got == 0 && m > 0) iso_now(s.ts);
    got += (size_t)m;
    held += (size_t)m;
    int at_end = m == 0 || got == length;
    size_t used = split_lines(&s, held, at_end, final && from + (double)got >= size);
    consumed += used;
    memmove(buf, buf + used, held - used);
    held -= used;
    if (at_end) break;
  }
  close(fd);
  free(file_json);
  r.offset = from + (double)consumed;
  r.bytes = got;
  return r;
}

/* ---- A scan: every file once, within the read budget. ---- */

/* Where to resume: the saved offset of this inode (under this name, or an old name after a rename), else 0. */
static double start_offset(const struct follower *f, const char *file, double ino, double size) {
  const struct offset_entry *saved = offsets_get(&f->state, file);
  if (!saved || saved->ino != ino) saved = offsets_find_ino(&f->state, ino);
  if (!saved) return 0;
  /* Shorter than what we shipped: truncated (copytruncate rotation, `> file`); read it again from the start. */
  return size < saved->offset ? 0 : saved->offset;
}

int follower_scan(struct follower *f, int final) {
  struct names listed = list(f);
  size_t first = 0;
  if (f->resume_at) {
    while (first < listed.n && js_compare(listed.v[first], f->resume_at) < 0) first++;
    if (first == listed.n) first = 0;
    free(f->resume_at);
    f->resume_at = NULL;
  }
  struct offsets next = {0};
  size_t budget = MAX_READ_BYTES;
  int exhausted = 0;
  for (size_t i = 0; i < listed.n; i++) {
    const char *file = listed.v[(first + i) % listed.n];
    char path[PATH_MAX];
    struct stat st;
    path_of(f, file, path, sizeof path);
    if (stat(path, &st) != 0) continue; /* removed since it was listed */
    double ino = (double)st.st_ino, size = (double)st.st_size;
    double offset = start_offset(f, file, ino, size);
    struct read_result r = read_from(f, file, offset, size, budget, final);
    offsets_set(&next, file, ino, r.offset);
    budget -= r.bytes < budget ? r.bytes : budget;
    if (budget == 0 && r.offset < size && !exhausted) {
      exhausted = 1;
      f->resume_at = copy(listed.v[(first + i + 1) % listed.n]);
    }
  }
  /* Files that are gone (deleted, or renamed to a name we follow again under `next`) drop out. */
  offsets_order(&next);
  offsets_free(&f->state);
  f->state = next;
  for (size_t i = 0; i < listed.n; i++) free(listed.v[i]);
  free(listed.v);
  return exhausted;
}
