#include "mk_conf.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mk_core.h"

#define MK_CONF_MAX_SIZE (4 << 20)

__attribute__((format(printf, 5, 6))) static void set_err(char *err, size_t errlen,
                                                          const char *name, int line,
                                                          const char *fmt, ...)
{
    va_list ap;
    int n;

    if (!err || !errlen)
        return;
    n = line > 0 ? snprintf(err, errlen, "%s:%d: ", name, line) : snprintf(err, errlen, "%s: ", name);
    if (n < 0 || (size_t)n >= errlen)
        return;
    va_start(ap, fmt);
    vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
    va_end(ap);
}

void mk_conf_free(struct mk_conf *conf)
{
    if (!conf)
        return;
    struct mk_conf_section *s = conf->sections;
    while (s) {
        struct mk_conf_section *sn = s->next;
        struct mk_conf_entry *e = s->entries;
        while (e) {
            struct mk_conf_entry *en = e->next;
            free(e->key);
            free(e->value);
            free(e);
            e = en;
        }
        free(s->name);
        free(s);
        s = sn;
    }
    free(conf->path);
    free(conf);
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t';
}

struct mk_conf *mk_conf_parse(const char *name, const char *data, size_t len, char *err,
                              size_t errlen)
{
    struct mk_conf *conf = mk_xcalloc(1, sizeof(*conf));
    struct mk_conf_section *sec = NULL, **sec_tail = &conf->sections;
    struct mk_conf_entry **ent_tail = NULL;
    size_t pos = 0;
    int line = 0;

    conf->path = mk_xstrdup(name);
    /* An editor's UTF-8 byte order mark would otherwise be reported as garbage before the
     * first section header, invisible in most editors. */
    if (len >= 3 && !memcmp(data, "\xef\xbb\xbf", 3)) {
        set_err(err, errlen, name, 1,
                "the file starts with a UTF-8 BOM (byte order mark): save it without one");
        goto fail;
    }
    while (pos < len) {
        const char *p = data + pos;
        const char *nl = memchr(p, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - p) : len - pos;

        pos += n + (nl ? 1 : 0);
        line++;
        if (n && p[n - 1] == '\r')
            n--;
        if (memchr(p, '\0', n)) {
            set_err(err, errlen, name, line, "NUL byte in the file");
            goto fail;
        }
        size_t i = 0;
        while (i < n && is_space(p[i]))
            i++;
        if (i == n || p[i] == '#')
            continue;
        size_t end = n;
        while (end > i && is_space(p[end - 1]))
            end--;

        if (i == 0) {
            if (p[0] != '[' || p[end - 1] != ']' || end < 3) {
                set_err(err, errlen, name, line,
                        "expected a [SECTION] header or an indented 'Key value' line, got '%.*s'",
                        (int)MK_MIN(end, 60), p);
                goto fail;
            }
            for (size_t k = 1; k < end - 1; k++) {
                char c = p[k];
                if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                      c == '_' || c == '-')) {
                    set_err(err, errlen, name, line, "invalid section name '%.*s'", (int)(end - 2),
                            p + 1);
                    goto fail;
                }
            }
            sec = mk_xcalloc(1, sizeof(*sec));
            sec->name = mk_xstrndup(p + 1, end - 2);
            sec->line = line;
            *sec_tail = sec;
            sec_tail = &sec->next;
            ent_tail = &sec->entries;
            continue;
        }
        if (!sec) {
            set_err(err, errlen, name, line, "'%.*s' is outside of any [SECTION]",
                    (int)MK_MIN(end - i, 60), p + i);
            goto fail;
        }
        size_t k = i;
        while (k < end && !is_space(p[k]))
            k++;
        size_t v = k;
        while (v < end && is_space(p[v]))
            v++;
        if (v == end) {
            set_err(err, errlen, name, line, "%.*s: missing value", (int)(k - i), p + i);
            goto fail;
        }
        /* "AccessLog /var/log/a.log  # main site" would name a file "a.log  # main site",
         * "PidFile # none" one named "#". */
        for (size_t h = v; h < end; h++)
            if (p[h] == '#' && is_space(p[h - 1])) {
                set_err(err, errlen, name, line,
                        "%.*s: '#' starts a comment only at the start of a line, not after a "
                        "key or a value ('%.*s')",
                        (int)(k - i), p + i, (int)MK_MIN(end - h, 40), p + h);
                goto fail;
            }
        struct mk_conf_entry *e = mk_xcalloc(1, sizeof(*e));
        e->key = mk_xstrndup(p + i, k - i);
        e->value = mk_xstrndup(p + v, end - v);
        e->line = line;
        *ent_tail = e;
        ent_tail = &e->next;
    }
    return conf;

fail:
    mk_conf_free(conf);
    return NULL;
}

struct mk_conf *mk_conf_load(const char *path, char *err, size_t errlen)
{
    struct stat st;
    struct mk_conf *conf;
    char *data;
    ssize_t n;
    size_t got = 0;
    int fd;

    /* O_NONBLOCK: a FIFO (in sites/, say) would block the open until a writer came, and a
     * reload with it: the main thread, stuck, would never take SIGTERM again.  It is refused
     * as not a regular file below; on a regular file the flag changes nothing. */
    fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        set_err(err, errlen, path, 0, "cannot open: %s", strerror(errno));
        return NULL;
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        set_err(err, errlen, path, 0, "not a regular file");
        close(fd);
        return NULL;
    }
    if (st.st_size > MK_CONF_MAX_SIZE) {
        set_err(err, errlen, path, 0, "file too large");
        close(fd);
        return NULL;
    }
    data = mk_xmalloc((size_t)st.st_size + 1);
    while (got < (size_t)st.st_size && (n = read(fd, data + got, (size_t)st.st_size - got)) > 0)
        got += (size_t)n;
    close(fd);
    conf = mk_conf_parse(path, data, got, err, errlen);
    free(data);
    return conf;
}

int mk_conf_get_bool(const struct mk_conf *c, const struct mk_conf_entry *e, bool *out, char *err,
                     size_t errlen)
{
    const char *v = e->value;
    if (!strcasecmp(v, "on") || !strcasecmp(v, "yes") || !strcasecmp(v, "true")) {
        *out = true;
        return 0;
    }
    if (!strcasecmp(v, "off") || !strcasecmp(v, "no") || !strcasecmp(v, "false")) {
        *out = false;
        return 0;
    }
    set_err(err, errlen, c->path, e->line, "%s: expected 'on' or 'off', got '%s'", e->key, v);
    return -1;
}

int mk_conf_get_int(const struct mk_conf *c, const struct mk_conf_entry *e, long min, long max,
                    long *out, char *err, size_t errlen)
{
    char *end;
    long v;

    /* Plain decimal digits, with a '-' at most: strtol would also take "+15" and " 15". */
    const char *d = e->value + (e->value[0] == '-');
    errno = 0;
    v = strtol(e->value, &end, 10);
    if (errno || !isdigit((unsigned char)*d) || *end != '\0') {
        set_err(err, errlen, c->path, e->line, "%s: expected a number, got '%s'", e->key, e->value);
        return -1;
    }
    if (v < min || v > max) {
        set_err(err, errlen, c->path, e->line, "%s: %ld is out of range [%ld, %ld]", e->key, v, min,
                max);
        return -1;
    }
    *out = v;
    return 0;
}
