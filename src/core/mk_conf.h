/* Reader for Monkey's indented configuration files:
 *
 *   # comment
 *   [SECTION]
 *       Key value words
 *
 * It only splits the file into sections and key/value entries, remembering line numbers so
 * that whoever interprets a value can report "file:line: what is wrong". */
#ifndef MK_CONF_H
#define MK_CONF_H

#include <stdbool.h>
#include <stddef.h>

struct mk_conf_entry {
    char *key;
    char *value;
    int line;
    struct mk_conf_entry *next;
};

struct mk_conf_section {
    char *name;
    int line;
    struct mk_conf_entry *entries;
    struct mk_conf_section *next;
};

struct mk_conf {
    char *path;
    struct mk_conf_section *sections;
};

/* Parse a file; on failure returns NULL and writes "path:line: reason" into err. */
struct mk_conf *mk_conf_load(const char *path, char *err, size_t errlen);

/* Same, from memory (tests, fuzzing); name is used in messages. */
struct mk_conf *mk_conf_parse(const char *name, const char *data, size_t len, char *err,
                              size_t errlen);

void mk_conf_free(struct mk_conf *conf);

/* Typed value readers; on error they write "path:line: Key: reason" into err. */
int mk_conf_get_bool(const struct mk_conf *c, const struct mk_conf_entry *e, bool *out, char *err,
                     size_t errlen);
int mk_conf_get_int(const struct mk_conf *c, const struct mk_conf_entry *e, long min, long max,
                    long *out, char *err, size_t errlen);

#endif
