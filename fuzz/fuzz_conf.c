/* Fuzz target: the configuration reader (mk_conf_parse) and its typed getters
 * (mk_conf_get_bool, mk_conf_get_int).
 *
 * Input: a configuration file.  The error buffer size and the integer bounds come from a
 * hash of it (including errlen 0 with no buffer, and a tiny buffer to test truncation).
 *
 * Invariants: on failure NULL and a NUL-terminated message that starts with the file name;
 * on success every section has a name of [A-Za-z0-9_-]+, every entry a non-empty key
 * without blanks and a non-empty value without leading/trailing blanks, newlines or NULs,
 * line numbers that increase and do not exceed the number of lines; get_bool succeeds
 * exactly for on/off/yes/no/true/false; get_int succeeds only within [min, max] and agrees
 * with a plain decimal reading of the value. */
#include <ctype.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <strings.h>

#include "fuzz_common.h"
#include "core/mk_conf.h"

static const char *const bool_words[] = {"on", "off", "yes", "no", "true", "false"};

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* Plain decimal reading of the whole string: a '-' at most, then digits only (no blanks, no
 * '+', as the configuration takes numbers since 0d8caec); false when it is not such a
 * number or does not fit in a long. */
static bool ref_long(const char *s, long *out)
{
    bool neg = false;
    unsigned long long v = 0;
    unsigned long long lim = (unsigned long long)LONG_MAX;

    if (*s == '-')
        neg = *s++ == '-';
    if (!isdigit((unsigned char)*s))
        return false;
    if (neg)
        lim += 1;
    for (; isdigit((unsigned char)*s); s++) {
        unsigned d = (unsigned)(*s - '0');
        if (v > (lim - d) / 10)
            return false;
        v = v * 10 + d;
    }
    if (*s)
        return false;
    *out = neg ? (long)(0 - v) : (long)v;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t h = fuzz_hash(data, size);
    static const size_t errlens[] = {0, 1, 8, 256};
    size_t errlen = errlens[h & 3];
    char *err = errlen ? malloc(errlen) : NULL;
    char *text = fuzz_dup(data, size);
    struct mk_conf *conf;
    int nlines = 1;

    for (size_t i = 0; i < size; i++)
        nlines += data[i] == '\n';
    if (err)
        memset(err, 'Z', errlen);

    conf = mk_conf_parse("fuzz.conf", text, size, err, errlen);
    if (!conf) {
        if (err) {
            FUZZ_CHECK(memchr(err, '\0', errlen) != NULL, "error message not terminated");
            if (errlen > 10)
                FUZZ_CHECK(!strncmp(err, "fuzz.conf:", 10), "error message: '%s'", err);
        }
        free(err);
        free(text);
        return 0;
    }

    FUZZ_CHECK(!strcmp(conf->path, "fuzz.conf"), "path '%s'", conf->path);
    int last_line = 0;
    for (const struct mk_conf_section *s = conf->sections; s; s = s->next) {
        size_t nl = strlen(s->name);
        FUZZ_CHECK(nl > 0, "empty section name");
        for (size_t i = 0; i < nl; i++) {
            char c = s->name[i];
            FUZZ_CHECK(isalnum((unsigned char)c) || c == '_' || c == '-', "section name '%s'",
                       s->name);
        }
        FUZZ_CHECK(s->line > last_line && s->line <= nlines, "section line %d", s->line);
        last_line = s->line;
        for (const struct mk_conf_entry *e = s->entries; e; e = e->next) {
            size_t kl = strlen(e->key), vl = strlen(e->value);
            FUZZ_CHECK(e->line > last_line && e->line <= nlines, "entry line %d after %d", e->line,
                       last_line);
            last_line = e->line;
            FUZZ_CHECK(kl > 0 && vl > 0, "empty key or value at line %d", e->line);
            for (size_t i = 0; i < kl; i++)
                FUZZ_CHECK(!is_blank(e->key[i]) && e->key[i] != '\n', "blank in key '%s'", e->key);
            FUZZ_CHECK(!is_blank(e->value[0]) && !is_blank(e->value[vl - 1]),
                       "value not trimmed: '%s'", e->value);
            FUZZ_CHECK(!strchr(e->value, '\n'), "newline in value");
            FUZZ_CHECK(e->key[0] != '#', "comment read as a key");

            bool b = false, word = false;
            for (size_t i = 0; i < sizeof(bool_words) / sizeof(bool_words[0]); i++)
                word = word || !strcasecmp(e->value, bool_words[i]);
            int rb = mk_conf_get_bool(conf, e, &b, err, errlen);
            FUZZ_CHECK((rb == 0) == word, "get_bool('%s') = %d", e->value, rb);
            if (rb == 0)
                FUZZ_CHECK(b == (!strcasecmp(e->value, "on") || !strcasecmp(e->value, "yes") ||
                                 !strcasecmp(e->value, "true")),
                           "get_bool('%s') read %d", e->value, b);

            long lo = (long)(h >> 8 & 0xffff) - 0x8000, hi = lo + (long)(h >> 24 & 0xffffff);
            if (h & 4) {
                lo = LONG_MIN;
                hi = LONG_MAX;
            }
            long v = 12345, want;
            bool ok = ref_long(e->value, &want);
            int ri = mk_conf_get_int(conf, e, lo, hi, &v, err, errlen);
            if (ri == 0)
                FUZZ_CHECK(ok && v == want && v >= lo && v <= hi,
                           "get_int('%s') = %ld, expected %s %ld in [%ld, %ld]", e->value, v,
                           ok ? "" : "an error, not", want, lo, hi);
            else
                FUZZ_CHECK(!ok || want < lo || want > hi,
                           "get_int('%s') refused %ld within [%ld, %ld]", e->value, want, lo, hi);
            if (err && ri != 0)
                FUZZ_CHECK(memchr(err, '\0', errlen) != NULL, "error message not terminated");
        }
    }
    mk_conf_free(conf);
    free(err);
    free(text);
    return 0;
}
