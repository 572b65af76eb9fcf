#include "offsets.h"
#include "text.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void *grow(void *p, size_t size) {
  void *q = realloc(p, size);
  if (!q) abort(); /* out of memory: the container's limit; nothing sensible to do but restart */
  return q;
}

void offsets_set(struct offsets *m, const char *file, double ino, double offset) {
  for (size_t i = 0; i < m->n; i++)
    if (strcmp(m->v[i].file, file) == 0) {
      m->v[i].ino = ino, m->v[i].offset = offset;
      return;
    }
  if (m->n == m->cap) m->cap = m->cap ? 2 * m->cap : 16, m->v = grow(m->v, m->cap * sizeof *m->v);
  m->v[m->n++] = (struct offset_entry){strdup(file), ino, offset};
  if (!m->v[m->n - 1].file) abort();
}

const struct offset_entry *offsets_get(const struct offsets *m, const char *file) {
  for (size_t i = 0; i < m->n; i++)
    if (strcmp(m->v[i].file, file) == 0) return &m->v[i];
  return NULL;
}

const struct offset_entry *offsets_find_ino(const struct offsets *m, double ino) {
  for (size_t i = 0; i < m->n; i++)
    if (m->v[i].ino == ino) return &m->v[i];
  return NULL;
}

/* An array index: the canonical decimal form of an integer below 2^32 - 1 ("0", "17"; not "017"). */
static int array_index(const char *s, uint32_t *value) {
  size_t len = strlen(s);
  if (len == 0 || len > 10 || (len > 1 && s[0] == '0')) return 0;
  uint64_t v = 0;
  for (const char *p = s; *p; p++) {
    if (*p < '0' || *p > '9') return 0;
    v = v * 10 + (uint64_t)(*p - '0');
  }
  if (v >= 0xffffffffu) return 0;
  *value = (uint32_t)v;
  return 1;
}

void offsets_order(struct offsets *m) {
  /* Insertion sort, stable: indexes move to the front in numeric order, the rest keep theirs. */
  for (size_t i = 1; i < m->n; i++) {
    uint32_t vi, vj;
    if (!array_index(m->v[i].file, &vi)) continue;
    struct offset_entry e = m->v[i];
    size_t j = i;
    while (j > 0 && (!array_index(m->v[j - 1].file, &vj) || vj > vi)) {
      m->v[j] = m->v[j - 1];
      j--;
    }
    m->v[j] = e;
  }
}

void offsets_free(struct offsets *m) {
  for (size_t i = 0; i < m->n; i++) free(m->v[i].file);
  free(m->v);
  *m = (struct offsets){0};
}

char *offsets_json(const struct offsets *m) {
  size_t cap = 3, len = 0;
  for (size_t i = 0; i < m->n; i++) cap += 6 * strlen(m->v[i].file) + 96;
  char *s = grow(NULL, cap);
  s[len++] = '{';
  for (size_t i = 0; i < m->n; i++) {
    size_t n = strlen(m->v[i].file);
    uint16_t *u = grow(NULL, (n + 1) * sizeof *u);
    size_t units = utf16_from_utf8((const unsigned char *)m->v[i].file, n, u);
    if (i > 0) s[len++] = ',';
    s[len++] = '"';
    len += json_escape(u, units, s + len);
    free(u);
    char ino[32], offset[32];
    js_integer(m->v[i].ino, ino);
    js_integer(m->v[i].offset, offset);
    memcpy(s + len, "\":{\"ino\":", 9), len += 9;
    memcpy(s + len, ino, strlen(ino)), len += strlen(ino);
    memcpy(s + len, ",\"offset\":", 10), len += 10;
    memcpy(s + len, offset, strlen(offset)), len += strlen(offset);
    s[len++] = '}';
  }
  s[len++] = '}';
  s[len] = 0;
  return s;
}

/* A recursive-descent JSON reader: just enough to take the two numbers of each entry. */
struct reader {
  const char *s;
  size_t len, at;
  int depth;
};

static void skip_space(struct reader *r) {
  while (r->at < r->len && strchr(" \t\r\n", r->s[r->at]) && r->s[r->at]) r->at++;
}

static int eat(struct reader *r, char c) {
  skip_space(r);
  if (r->at < r->len && r->s[r->at] == c) return r->at++, 1;
  return 0;
}

static int hex4(struct reader *r, unsigned *v) {
  *v = 0;
  for (int i = 0; i < 4; i++, r->at++) {
    if (r->at >= r->len) return 0;
    char c = r->s[r->at];
    int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
    if (d < 0) return 0;
    *v = *v * 16 + (unsigned)d;
  }
  return 1;
}

/* A string, into a malloc'd UTF-8 copy when `out` is given. */
static int read_string(struct reader *r, char **out) {
  if (!eat(r, '"')) return 0;
  uint16_t *u = grow(NULL, (r->len - r->at + 1) * sizeof *u);
  size_t n = 0;
  for (;;) {
    if (r->at >= r->len) break;
    unsigned char c = (unsigned char)r->s[r->at];
    if (c == '"') {
      r->at++;
      if (out) {
        *out = grow(NULL, 3 * n + 1);
        (*out)[utf8_from_utf16(u, n, *out)] = 0;
      }
      free(u);
      return 1;
    }
    if (c < 0x20) break;
    if (c != '\\') {
      /* Copy one UTF-8 sequence (or byte) as it is. */
      size_t start = r->at++;
      while (r->at < r->len && ((unsigned char)r->s[r->at] & 0xc0) == 0x80) r->at++;
      n += utf16_from_utf8((const unsigned char *)r->s + start, r->at - start, u + n);
      continue;
    }
    if (++r->at >= r->len) break;
    char e = r->s[r->at++];
    const char *from = "\"\\/bfnrt", *to = "\"\\/\b\f\n\r\t";
    const char *k = strchr(from, e);
    unsigned v;
    if (e && k) u[n++] = (uint16_t)to[k - from];
    else if (e == 'u' && hex4(r, &v)) u[n++] = (uint16_t)v;
    else break;
  }
  free(u);
  return 0;
}

static int read_number(struct reader *r, double *v) {
  skip_space(r);
  size_t start = r->at;
  const char *s = r->s;
#define DIGITS(min)                                                                                            \
  do {                                                                                                         \
    size_t d0 = r->at;                                                                                         \
    while (r->at < r->len && s[r->at] >= '0' && s[r->at] <= '9') r->at++;                                     \
    if (r->at - d0 < (min)) return 0;                                                                          \
  } while (0)
  if (r->at < r->len && s[r->at] == '-') r->at++;
  if (r->at < r->len && s[r->at] == '0') r->at++;
  else DIGITS(1);
  if (r->at < r->len && s[r->at] == '.') {
    r->at++;
    DIGITS(1);
  }
  if (r->at < r->len && (s[r->at] == 'e' || s[r->at] == 'E')) {
    r->at++;
    if (r->at < r->len && (s[r->at] == '+' || s[r->at] == '-')) r->at++;
    DIGITS(1);
  }
#undef DIGITS
  char buf[400];
  size_t n = r->at - start < sizeof buf - 1 ? r->at - start : sizeof buf - 1;
  memcpy(buf, s + start, n);
  buf[n] = 0;
  *v = strtod(buf, NULL);
  return 1;
}

struct entry_numbers {
  int has_ino, has_offset;
  double ino, offset;
};

static int read_value(struct reader *r, struct entry_numbers *into);

/* An object; for a top-level one, each member whose value has numeric ino and offset becomes an entry. */
static int read_object(struct reader *r, struct offsets *top, struct entry_numbers *numbers) {
  if (!eat(r, '{')) return 0;
  if (eat(r, '}')) return 1;
  do {
    char *key = NULL;
    if (!read_string(r, &key) || !eat(r, ':')) return free(key), 0;
    struct entry_numbers e = {0};
    int ok;
    if (numbers && (strcmp(key, "ino") == 0 || strcmp(key, "offset") == 0)) {
      skip_space(r);
      char c = r->at < r->len ? r->s[r->at] : 0;
      int is_number = c == '-' || (c >= '0' && c <= '9');
      double number = 0;
      ok = is_number ? read_number(r, &number) : read_value(r, NULL);
      /* A later duplicate key wins, as in JSON.parse; a value that is not a number never matches. */
      if (key[0] == 'i') numbers->has_ino = ok && is_number, numbers->ino = number;
      else numbers->has_offset = ok && is_number, numbers->offset = number;
    } else ok = read_value(r, top ? &e : NULL);
    /* An offset must be where a read can start: a whole, non-negative number of bytes. */
    if (ok && top && e.has_ino && e.has_offset && e.offset >= 0 && e.offset <= 9007199254740992.0 && (double)(int64_t)e.offset == e.offset)
      offsets_set(top, key, e.ino, e.offset);
    free(key);
    if (!ok) return 0;
  } while (eat(r, ','));
  return eat(r, '}');
}

static int read_value(struct reader *r, struct entry_numbers *into) {
  if (++r->depth > 256) return 0;
  skip_space(r);
  int ok = 0;
  char c = r->at < r->len ? r->s[r->at] : 0;
  double ignored;
  if (c == '{') ok = read_object(r, NULL, into);
  else if (c == '[') {
    r->at++;
    ok = eat(r, ']');
    if (!ok) {
      do ok = read_value(r, NULL);
      while (ok && eat(r, ','));
      ok = ok && eat(r, ']');
    }
  } else if (c == '"') ok = read_string(r, NULL);
  else if (c == '-' || (c >= '0' && c <= '9')) ok = read_number(r, &ignored);
  else
    for (const char *const *w = (const char *const[]){"true", "false", "null", NULL}; *w; w++)
      if (r->len - r->at >= strlen(*w) && memcmp(r->s + r->at, *w, strlen(*w)) == 0) {
        r->at += strlen(*w), ok = 1;
        break;
      }
  r->depth--;
  return ok;
}

int offsets_parse(const char *json, size_t len, struct offsets *m, size_t *error_at) {
  struct reader r = {json, len, 0, 0};
  skip_space(&r);
  int ok = r.at < len && json[r.at] == '{' ? read_object(&r, m, NULL) : read_value(&r, NULL);
  skip_space(&r);
  if (ok && r.at == len) {
    offsets_order(m);
    return 0;
  }
  *error_at = r.at;
  offsets_free(m);
  return -1;
}
