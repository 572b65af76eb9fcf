/*
 * The file-following core: which bytes of which file under the log directory are new since the
 * last scan, split into lines and printed as JSON. Offsets are kept per file (with its inode) so
 * that a restarted shipper resumes where it stopped, a rotated (renamed) file keeps its offset
 * under its new name, and a truncated file is read again from its start.
 */
#ifndef LOG_SHIPPER_FOLLOWER_H
#define LOG_SHIPPER_FOLLOWER_H
#include "offsets.h"
#include <stddef.h>

/* A longer line is shipped in pieces of this many bytes (no byte is dropped). */
#define MAX_LINE_BYTES (8 * 1024)
/* Read at most this much per scan (all files together), so a burst cannot fill memory. */
#define MAX_READ_BYTES (1024 * 1024)
/* Follow at most this many files (the first by name), at most MAX_DEPTH directories deep. */
#define MAX_FILES 256
#define MAX_DEPTH 4
/* Under the node agent's line limit (16 KiB), so a line's JSON always arrives whole. */
#define MAX_JSON_UNITS (15 * 1024)

struct follower {
  const char *dir;
  struct offsets state;
  /* The file after the one on which the last scan ran out of budget: the next scan starts there, so no file starves behind a busy one. */
  char *resume_at;
  /* What was already warned about (a path, or "*" for too many files): each is said once. */
  char **warned;
  size_t warned_n;
};

/*
 * Prints (to the stdout buffer) the complete lines appended since the last scan; with `final`
 * (the shipper is stopping and the writers have exited) a last line without newline too.
 * Returns 1 when the read budget ran out before every file was read to its end: scan again at once.
 */
int follower_scan(struct follower *f, int final);
#endif
