#include "text.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t utf16_from_utf8(const unsigned char *s, size_t n, uint16_t *out) {
  size_t o = 0;
  uint32_t cp = 0;
  unsigned needed = 0, seen = 0, lower = 0x80, upper = 0xbf;
  for (size_t i = 0; i < n; i++) {
    unsigned b = s[i];
    if (needed == 0) {
      if (b < 0x80) out[o++] = (uint16_t)b;
      else if (b >= 0xc2 && b <= 0xdf) needed = 1, cp = b & 0x1f;
      else if (b >= 0xe0 && b <= 0xef) {
        if (b == 0xe0) lower = 0xa0;
        if (b == 0xed) upper = 0x9f; /* no surrogates from bytes */
        needed = 2, cp = b & 0x0f;
      } else if (b >= 0xf0 && b <= 0xf4) {
        if (b == 0xf0) lower = 0x90;
        if (b == 0xf4) upper = 0x8f;
        needed = 3, cp = b & 0x07;
      } else out[o++] = 0xfffd;
      continue;
    }
    if (b < lower || b > upper) {
      /* The sequence so far is one U+FFFD; this byte starts over. */
      needed = seen = 0, lower = 0x80, upper = 0xbf;
      out[o++] = 0xfffd;
      i--;
      continue;
    }
    lower = 0x80, upper = 0xbf;
    cp = (cp << 6) | (b & 0x3f);
    if (++seen < needed) continue;
    if (cp >= 0x10000) {
      out[o++] = (uint16_t)(0xd800 + ((cp - 0x10000) >> 10));
      out[o++] = (uint16_t)(0xdc00 + ((cp - 0x10000) & 0x3ff));
    } else out[o++] = (uint16_t)cp;
    needed = seen = 0;
  }
  if (needed != 0) out[o++] = 0xfffd;
  return o;
}

static int is_high(uint16_t u) { return u >= 0xd800 && u <= 0xdbff; }
static int is_low(uint16_t u) { return u >= 0xdc00 && u <= 0xdfff; }
/* A surrogate with its partner: the pair is one character; any other surrogate is lone. */
static int paired(const uint16_t *u, size_t n, size_t i) {
  if (is_high(u[i])) return i + 1 < n && is_low(u[i + 1]);
  if (is_low(u[i])) return i > 0 && is_high(u[i - 1]);
  return 1;
}

size_t utf8_from_utf16(const uint16_t *u, size_t n, char *out) {
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    uint32_t c = u[i];
    if (is_high(u[i]) && i + 1 < n && is_low(u[i + 1])) {
      c = 0x10000 + ((c - 0xd800) << 10) + (u[++i] - 0xdc00u);
      out[o++] = (char)(0xf0 | (c >> 18));
      out[o++] = (char)(0x80 | ((c >> 12) & 0x3f));
      out[o++] = (char)(0x80 | ((c >> 6) & 0x3f));
      out[o++] = (char)(0x80 | (c & 0x3f));
    } else if (c < 0x80) out[o++] = (char)c;
    else if (c < 0x800) {
      out[o++] = (char)(0xc0 | (c >> 6));
      out[o++] = (char)(0x80 | (c & 0x3f));
    } else {
      out[o++] = (char)(0xe0 | (c >> 12));
      out[o++] = (char)(0x80 | ((c >> 6) & 0x3f));
      out[o++] = (char)(0x80 | (c & 0x3f));
    }
  }
  return o;
}

/* The next UTF-16 code unit of a well-formed UTF-8 string; `pending` holds a pair's low half. */
static unsigned next_unit(const unsigned char **p, unsigned *pending) {
  if (*pending) {
    unsigned u = *pending;
    *pending = 0;
    return u;
  }
  const unsigned char *s = *p;
  uint32_t c = s[0];
  if (c < 0x80) *p += 1;
  else if (c < 0xe0) c = ((c & 0x1f) << 6) | (s[1] & 0x3f), *p += 2;
  else if (c < 0xf0) c = ((c & 0x0f) << 12) | ((s[1] & 0x3fu) << 6) | (s[2] & 0x3f), *p += 3;
  else {
    c = ((c & 0x07) << 18) | ((s[1] & 0x3fu) << 12) | ((s[2] & 0x3fu) << 6) | (s[3] & 0x3f), *p += 4;
    *pending = 0xdc00 + ((c - 0x10000) & 0x3ff);
    return 0xd800 + ((c - 0x10000) >> 10);
  }
  return c;
}

int js_compare(const char *a, const char *b) {
  const unsigned char *pa = (const unsigned char *)a, *pb = (const unsigned char *)b;
  unsigned qa = 0, qb = 0;
  for (;;) {
    int enda = !qa && !*pa, endb = !qb && !*pb;
    if (enda || endb) return endb - enda;
    unsigned ua = next_unit(&pa, &qa), ub = next_unit(&pb, &qb);
    if (ua != ub) return ua < ub ? -1 : 1;
  }
}

/* How JSON.stringify writes one code unit: a two-character escape, \u00XX, \udXXX (lone surrogate), or itself. */
static const char *short_escape(uint16_t c) {
  switch (c) {
  case '"': return "\\\"";
  case '\\': return "\\\\";
  case '\b': return "\\b";
  case '\f': return "\\f";
  case '\n': return "\\n";
  case '\r': return "\\r";
  case '\t': return "\\t";
  default: return NULL;
  }
}

size_t json_units(const uint16_t *u, size_t n) {
  size_t len = 0;
  for (size_t i = 0; i < n; i++) {
    if (short_escape(u[i])) len += 2;
    else if (u[i] < 0x20 || !paired(u, n, i)) len += 6;
    else len += 1;
  }
  return len;
}

size_t json_escape(const uint16_t *u, size_t n, char *dst) {
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    const char *e = short_escape(u[i]);
    if (e) {
      memcpy(dst + o, e, 2);
      o += 2;
    } else if (u[i] < 0x20 || !paired(u, n, i)) {
      snprintf(dst + o, 7, "\\u%04x", u[i]);
      o += 6;
    } else if (is_high(u[i])) {
      o += utf8_from_utf16(u + i, 2, dst + o);
      i++;
    } else o += utf8_from_utf16(u + i, 1, dst + o);
  }
  return o;
}

void js_integer(double v, char out[32]) {
  if (v < 9007199254740992.0) {
    snprintf(out, 32, "%.0f", v);
    return;
  }
  /* Shortest digits that read back as v, then zeros up to the decimal point (ECMAScript Number::toString). */
  char sci[40];
  for (int precision = 1; precision <= 17; precision++) {
    snprintf(sci, sizeof sci, "%.*e", precision - 1, v);
    if (strtod(sci, NULL) == v) break;
  }
  char digits[24];
  size_t k = 0;
  const char *p = sci;
  for (; *p && *p != 'e'; p++)
    if (*p != '.') digits[k++] = *p;
  while (k > 1 && digits[k - 1] == '0') k--;
  int exponent = atoi(p + 1);
  size_t o = 0;
  for (int i = 0; i <= exponent && o < 31; i++) out[o++] = (size_t)i < k ? digits[i] : '0';
  out[o] = 0;
}
