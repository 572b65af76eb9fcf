/*
 * Per followed file (its path relative to the log directory): its inode and the byte offset up
 * to which its lines were shipped. Kept in the order of a JavaScript object's keys (array-index
 * keys first by value, then the others as inserted), because that order decides which entry a
 * renamed file takes its offset from, and how offsets.json reads.
 */
#ifndef LOG_SHIPPER_OFFSETS_H
#define LOG_SHIPPER_OFFSETS_H
#include <stddef.h>

/* Numbers as JavaScript held them: an inode is compared as the double stat() gave Node. */
struct offset_entry {
  char *file;
  double ino;
  double offset;
};

struct offsets {
  struct offset_entry *v;
  size_t n, cap;
};

/* Sets an entry (a new file goes last, an existing one keeps its place). */
void offsets_set(struct offsets *m, const char *file, double ino, double offset);
const struct offset_entry *offsets_get(const struct offsets *m, const char *file);
/* The first entry, in key order, of this inode. */
const struct offset_entry *offsets_find_ino(const struct offsets *m, double ino);
/* Puts the keys in JavaScript's order: call after the last offsets_set of a batch. */
void offsets_order(struct offsets *m);
void offsets_free(struct offsets *m);

/* JSON.stringify of the object `{"<file>":{"ino":…,"offset":…},…}`; a malloc'd string. */
char *offsets_json(const struct offsets *m);
/*
 * Reads that JSON (any valid JSON parses; entries without numeric ino and offset are left out).
 * Returns 0, or -1 with the position of the first invalid character in `*error_at`.
 */
int offsets_parse(const char *json, size_t len, struct offsets *m, size_t *error_at);
#endif
