#include "mk_mime.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../core/mk_conf.h"
#include "../core/mk_core.h"

struct mk_mime_entry {
    char *ext;
    char *type;
};

struct mk_mime_table {
    struct mk_mime_entry *v;
    size_t n, cap;
    bool sorted;
};

struct mk_mime_table *mk_mime_new(void)
{
    return mk_xcalloc(1, sizeof(struct mk_mime_table));
}

void mk_mime_free(struct mk_mime_table *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n; i++) {
        free(t->v[i].ext);
        free(t->v[i].type);
    }
    free(t->v);
    free(t);
}

static int cmp_entry(const void *a, const void *b)
{
    const struct mk_mime_entry *x = a, *y = b;
    return strcasecmp(x->ext, y->ext);
}

static const char *token_end(const char *p)
{
    while (*p && (isalnum((unsigned char)*p) || strchr("!#$%&'*+-.^_`|~", *p)))
        p++;
    return p;
}

static const char *skip_ows(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

bool mk_mime_type_valid(const char *type)
{
    /* media-type = type "/" subtype parameters (RFC 9110 8.3.1); parameters =
     * *( OWS ";" OWS [ token "=" ( token / quoted-string ) ] ) */
    const char *p = token_end(type), *q;
    if (strlen(type) > MK_MIME_TYPE_MAX)
        return false;
    if (p == type || *p != '/')
        return false;
    q = token_end(++p);
    if (q == p)
        return false;
    for (p = q;;) {
        p = skip_ows(p);
        if (!*p)
            return true;
        if (*p++ != ';')
            return false;
        p = skip_ows(p);
        if (!*p || *p == ';')
            continue;
        q = token_end(p);
        if (q == p || *q != '=')
            return false;
        p = q + 1;
        if (*p != '"') {
            q = token_end(p);
            if (q == p)
                return false;
            p = q;
            continue;
        }
        for (p++; *p != '"'; p++) {
            if (*p == '\\')
                p++;
            if (!*p || ((unsigned char)*p < 0x20 && *p != '\t') || *p == 0x7f)
                return false;
        }
        p++;
    }
}

int mk_mime_add(struct mk_mime_table *t, const char *ext, const char *type)
{
    if (!*ext || strlen(ext) > 32 || strchr(ext, '.') || strchr(ext, '/'))
        return -1;
    if (!mk_mime_type_valid(type))
        return -1;
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 64;
        t->v = mk_xrealloc(t->v, t->cap * sizeof(*t->v));
    }
    t->v[t->n].ext = mk_xstrdup(ext);
    t->v[t->n].type = mk_xstrdup(type);
    t->n++;
    qsort(t->v, t->n, sizeof(*t->v), cmp_entry);
    return 0;
}

struct mk_mime_table *mk_mime_load(const char *path, char *err, size_t errlen)
{
    struct mk_conf *conf = mk_conf_load(path, err, errlen);
    struct mk_mime_table *t;

    if (!conf)
        return NULL;
    t = mk_mime_new();
    for (struct mk_conf_section *s = conf->sections; s; s = s->next) {
        if (strcasecmp(s->name, "MIMETYPES") != 0) {
            snprintf(err, errlen, "%s:%d: unknown section [%s] (expected [MIMETYPES])", path,
                     s->line, s->name);
            goto fail;
        }
        /* As in the other files, a section or a key given twice is refused: which type an
         * extension given twice ("txt", then "TXT") gets was up to the sort and the search. */
        if (s != conf->sections) {
            snprintf(err, errlen, "%s:%d: [%s] again (it was opened at line %d)", path, s->line,
                     s->name, conf->sections->line);
            goto fail;
        }
        for (struct mk_conf_entry *e = s->entries; e; e = e->next) {
            for (struct mk_conf_entry *f = s->entries; f != e; f = f->next)
                if (!strcasecmp(f->key, e->key)) {
                    snprintf(err, errlen, "%s:%d: extension '%s' is already set at line %d",
                             path, e->line, e->key, f->line);
                    goto fail;
                }
            if (mk_mime_add(t, e->key, e->value) < 0) {
                snprintf(err, errlen, "%s:%d: invalid type '%s' for extension '%s'%s", path,
                         e->line, e->value, e->key,
                         strlen(e->value) > MK_MIME_TYPE_MAX ? " (longer than 255 bytes)" : "");
                goto fail;
            }
        }
    }
    mk_conf_free(conf);
    return t;
fail:
    mk_conf_free(conf);
    mk_mime_free(t);
    return NULL;
}

const char *mk_mime_lookup(const struct mk_mime_table *t, const char *name, size_t len,
                           const char *dflt)
{
    const char *dot = NULL;
    char ext[33];

    for (size_t i = len; i > 0; i--) {
        if (name[i - 1] == '.') {
            dot = name + i;
            break;
        }
        if (name[i - 1] == '/')
            break;
    }
    if (!t || !dot || t->n == 0)
        return dflt;
    size_t n = (size_t)(name + len - dot);
    if (n == 0 || n >= sizeof(ext))
        return dflt;
    memcpy(ext, dot, n);
    ext[n] = '\0';
    struct mk_mime_entry key = {.ext = ext};
    struct mk_mime_entry *e = bsearch(&key, t->v, t->n, sizeof(*t->v), cmp_entry);
    return e ? e->type : dflt;
}
