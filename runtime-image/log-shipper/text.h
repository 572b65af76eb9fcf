/*
 * Text as Node sees it: bytes decoded to UTF-16 code units the way Buffer.toString('utf8')
 * does, strings compared and escaped the way JavaScript's `<` and JSON.stringify do, numbers
 * printed the way Number#toString does. The shipper's output must stay byte-identical to what
 * the Node shipper printed, so each rule here copies the JavaScript one.
 */
#ifndef LOG_SHIPPER_TEXT_H
#define LOG_SHIPPER_TEXT_H
#include <stddef.h>
#include <stdint.h>

/* Decodes UTF-8 (WHATWG decoder: each maximal ill-formed subpart becomes one U+FFFD). `out` holds n units. */
size_t utf16_from_utf8(const unsigned char *s, size_t n, uint16_t *out);
/* Encodes code units as UTF-8 (a lone surrogate as its three bytes); `out` holds 3 * n bytes. */
size_t utf8_from_utf16(const uint16_t *u, size_t n, char *out);

/* JavaScript's string order (by UTF-16 code unit) of two well-formed UTF-8 strings: <0, 0, >0. */
int js_compare(const char *a, const char *b);

/* The length, in UTF-16 code units, of JSON.stringify of the string (quotes not counted). */
size_t json_units(const uint16_t *u, size_t n);
/* The body of JSON.stringify of the string, as UTF-8, into `dst` (room for 6 * n bytes); returns its length. */
size_t json_escape(const uint16_t *u, size_t n, char *dst);

/* Number#toString of a non-negative integer below 1e21 (an inode beyond 2^53 is rounded like in JavaScript). */
void js_integer(double v, char out[32]);
#endif
