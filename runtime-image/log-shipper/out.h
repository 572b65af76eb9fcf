/* The shipper's two outputs: shipped lines on stdout (buffered, written whole), its own messages on stderr. */
#ifndef LOG_SHIPPER_OUT_H
#define LOG_SHIPPER_OUT_H
#include <stddef.h>

/* Appends to the stdout buffer; a full buffer is written out first (blocking: backpressure, never a drop). */
void out_put(const void *bytes, size_t n);
void out_str(const char *s);
/* Writes everything buffered. A write error (the log agent went away) ends the process with status 1. */
void out_flush(void);

/* `log-shipper: <message>` on stderr. */
void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* An error as Node words it (`EACCES: permission denied, open '/x'`), for messages that say why. */
const char *errno_text(int err, const char *syscall, const char *path);
#endif
