/* mk_conf_parse / mk_conf_load and the typed readers: structure, line numbers and the exact
 * "name:line: " prefix of every error. */
#include "mk_test.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <sys/stat.h>

#include "core/mk_conf.h"

#define S(lit) (lit), (sizeof(lit) - 1)

static struct mk_conf *parse(const char *data, size_t len, char *err, size_t errlen)
{
    /* the input ends at a guard page: the reader must not look past len */
    char *g = guard_copy(data, len);
    err[0] = '\0';
    struct mk_conf *c = mk_conf_parse("t.conf", g, len, err, errlen);
    guard_free(g, len);
    return c;
}

static const struct mk_conf_section *section(const struct mk_conf *c, int i)
{
    const struct mk_conf_section *s = c ? c->sections : NULL;
    while (s && i--)
        s = s->next;
    return s;
}

static const struct mk_conf_entry *entry(const struct mk_conf_section *s, int i)
{
    const struct mk_conf_entry *e = s ? s->entries : NULL;
    while (e && i--)
        e = e->next;
    return e;
}

static bool starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

#define CHECK_PREFIX(s, prefix)                                                                    \
    CHECKF(starts_with((s), (prefix)), "error \"%s\" does not start with \"%s\"", (s), (prefix))

MK_TEST(sections_and_entries)
{
    static const char in[] = "# Monkey configuration\n"
                             "\n"
                             "[SERVER]\n"
                             "    Listen 8080\n"
                             "    Workers   2\n"
                             "\t# an indented comment\n"
                             "\tUser  www-data   \n"
                             "\n"
                             "[HOST]\n"
                             "    ServerName a.example b.example\tc\n"
                             "  \t  Mixed\t \tindent value\n";
    char err[256];
    struct mk_conf *c = parse(S(in), err, sizeof(err));
    if (!CHECKF(c != NULL, "parse failed: %s", err))
        return;
    CHECK(strcmp(c->path, "t.conf") == 0);
    const struct mk_conf_section *s0 = section(c, 0), *s1 = section(c, 1);
    if (!CHECK(s0 && s1 && !section(c, 2)))
        goto out;
    CHECK(strcmp(s0->name, "SERVER") == 0);
    CHECK_EQ_INT(s0->line, 3);
    CHECK(strcmp(s1->name, "HOST") == 0);
    CHECK_EQ_INT(s1->line, 9);

    static const struct {
        int sec;
        int idx;
        const char *key, *value;
        int line;
    } want[] = {
        {0, 0, "Listen", "8080", 4},         {0, 1, "Workers", "2", 5},
        {0, 2, "User", "www-data", 7},       {1, 0, "ServerName", "a.example b.example\tc", 10},
        {1, 1, "Mixed", "indent value", 11},
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        const struct mk_conf_entry *e = entry(section(c, want[i].sec), want[i].idx);
        if (!CHECKF(e != NULL, "entry %s missing", want[i].key))
            continue;
        CHECK_EQ_STR(e->key, strlen(e->key), want[i].key);
        CHECK_EQ_STR(e->value, strlen(e->value), want[i].value);
        CHECK_EQ_INT(e->line, want[i].line);
    }
    CHECK(entry(s0, 3) == NULL);
    CHECK(entry(s1, 2) == NULL);
out:
    mk_conf_free(c);
}

MK_TEST(crlf_file)
{
    static const char in[] =
        "# c\r\n[A]\r\n    K1 v1\r\n\r\n    K2 two words \r\n[B-2_x]\r\n  K3 v3";
    char err[256];
    struct mk_conf *c = parse(S(in), err, sizeof(err));
    if (!CHECKF(c != NULL, "parse failed: %s", err))
        return;
    const struct mk_conf_section *a = section(c, 0), *b = section(c, 1);
    if (CHECK(a && b)) {
        CHECK(strcmp(a->name, "A") == 0);
        CHECK(strcmp(b->name, "B-2_x") == 0);
        CHECK_EQ_INT(b->line, 6);
        const struct mk_conf_entry *e1 = entry(a, 0), *e2 = entry(a, 1), *e3 = entry(b, 0);
        if (CHECK(e1 && e2 && e3)) {
            CHECK_EQ_STR(e1->value, strlen(e1->value), "v1");
            CHECK_EQ_STR(e2->value, strlen(e2->value), "two words");
            CHECK_EQ_INT(e2->line, 5);
            /* the last line has no line end */
            CHECK_EQ_STR(e3->key, strlen(e3->key), "K3");
            CHECK_EQ_STR(e3->value, strlen(e3->value), "v3");
            CHECK_EQ_INT(e3->line, 7);
        }
    }
    mk_conf_free(c);
}

MK_TEST(hash_inside_a_value_kept)
{
    /* only a '#' after a blank is refused (a comment after a key): "a#b" is a value */
    static const char in[] = "[A]\n    K /srv/a#b\n    K2 x# y#\n";
    char err[256];
    struct mk_conf *c = parse(S(in), err, sizeof(err));
    if (!CHECKF(c != NULL, "parse failed: %s", err))
        return;
    const struct mk_conf_entry *e1 = entry(section(c, 0), 0), *e2 = entry(section(c, 0), 1);
    if (CHECK(e1 && e2)) {
        CHECK_EQ_STR(e1->value, strlen(e1->value), "/srv/a#b");
        CHECK_EQ_STR(e2->value, strlen(e2->value), "x# y#");
    }
    mk_conf_free(c);
}

MK_TEST(empty_and_comment_only)
{
    char err[256];
    struct mk_conf *c = parse("", 0, err, sizeof(err));
    if (CHECK(c != NULL))
        CHECK(c->sections == NULL);
    mk_conf_free(c);
    static const char in[] = "# only\n   # comments\n\n\t\n";
    c = parse(S(in), err, sizeof(err));
    if (CHECK(c != NULL))
        CHECK(c->sections == NULL);
    mk_conf_free(c);
    /* an empty section is kept */
    static const char in2[] = "[EMPTY]\n";
    c = parse(S(in2), err, sizeof(err));
    if (CHECK(c != NULL) && CHECK(c->sections != NULL))
        CHECK(c->sections->entries == NULL);
    mk_conf_free(c);
}

MK_TEST(errors_with_line_numbers)
{
    static const struct {
        const char *name;
        const char *data;
        size_t len;
        const char *prefix;
    } c[] = {
        {"key outside section", S("# c\n    Key value\n[A]\n"), "t.conf:2: "},
        {"unindented garbage", S("[A]\n    K v\ngarbage here\n"), "t.conf:3: "},
        {"unindented key", S("[A]\nKey value\n"), "t.conf:2: "},
        {"missing value", S("[A]\n    K v\n    Key\n"), "t.conf:3: Key: missing value"},
        {"missing value trailing ws", S("[A]\n    Key  \t \n"), "t.conf:2: Key: missing value"},
        {"missing value CRLF", S("[A]\r\n\r\n    Key\r\n"), "t.conf:3: Key: missing value"},
        {"bad section name space", S("[A B]\n"), "t.conf:1: "},
        {"bad section name dot", S("\n[A.B]\n"), "t.conf:2: "},
        {"bad section name high bit", S("[\xc3\xa9]\n"), "t.conf:1: "},
        {"empty section name", S("[]\n"), "t.conf:1: "},
        {"unclosed section", S("[A\n"), "t.conf:1: "},
        {"junk after section", S("[A]x\n"), "t.conf:1: "},
        {"indented section header", S("[A]\n  [B]\n"), "t.conf:2: "},
        {"NUL byte", S("[A]\n    K v\n    K2 a\0b\n"), "t.conf:3: "},
        {"NUL in comment", S("[A]\n# x\0\n"), "t.conf:2: "},
        {"NUL on CRLF line", S("[A]\r\n\0\r\n"), "t.conf:2: "},
        {"comment after a value", S("[A]\n    K /a/b.log  # main\n"),
         "t.conf:2: K: '#' starts a comment only at the start of a line"},
        {"comment after a value, tab", S("[A]\n    K on\t#x\r\n"),
         "t.conf:2: K: '#' starts a comment only at the start of a line"},
        {"comment instead of a value", S("[A]\n    K # none\n"),
         "t.conf:2: K: '#' starts a comment only at the start of a line"},
        {"UTF-8 BOM", S("\xef\xbb\xbf[A]\n    K v\n"),
         "t.conf:1: the file starts with a UTF-8 BOM"},
        {"UTF-8 BOM alone", S("\xef\xbb\xbf"), "t.conf:1: the file starts with a UTF-8 BOM"},
    };
    for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
        char err[256];
        mk_test_context("%s", c[i].name);
        struct mk_conf *conf = parse(c[i].data, c[i].len, err, sizeof(err));
        CHECKF(conf == NULL, "accepted");
        mk_conf_free(conf);
        CHECK_PREFIX(err, c[i].prefix);
        CHECKF(strlen(err) > strlen("t.conf:1: "), "no reason after the prefix: \"%s\"", err);
    }
    mk_test_context(NULL);
}

MK_TEST(error_buffer_bounds)
{
    /* a tiny or absent buffer is fine: truncated, NUL-terminated, no overflow */
    static const char in[] = "garbage garbage garbage garbage\n";
    char small[9];
    memset(small, 'x', sizeof(small));
    struct mk_conf *c = mk_conf_parse("t.conf", S(in), small, 8);
    CHECK(c == NULL);
    CHECK(small[8] == 'x');
    CHECK(memchr(small, '\0', 8) != NULL);
    c = mk_conf_parse("t.conf", S(in), NULL, 0);
    CHECK(c == NULL);
}

static struct mk_conf *one_entry(const char *value)
{
    char buf[256], err[256];
    int n = snprintf(buf, sizeof(buf), "[S]\n\n    Key %s\n", value);
    struct mk_conf *c = mk_conf_parse("t.conf", buf, (size_t)n, err, sizeof(err));
    if (!CHECKF(c && c->sections && c->sections->entries, "parse '%s': %s", value, err)) {
        mk_conf_free(c);
        return NULL;
    }
    return c;
}

MK_TEST(get_bool)
{
    static const struct {
        const char *v;
        bool want;
    } ok[] = {{"on", true},   {"On", true},   {"ON", true},  {"yes", true},   {"true", true},
              {"off", false}, {"OFF", false}, {"no", false}, {"false", false}};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        struct mk_conf *c = one_entry(ok[i].v);
        if (!c)
            continue;
        bool b = !ok[i].want;
        char err[256] = "";
        CHECKF(mk_conf_get_bool(c, c->sections->entries, &b, err, sizeof(err)) == 0,
               "get_bool(%s): %s", ok[i].v, err);
        CHECKF(b == ok[i].want, "get_bool(%s) = %d", ok[i].v, b);
        mk_conf_free(c);
    }
    static const char *const bad[] = {"maybe", "1", "0", "onn", "o n", "enabled"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct mk_conf *c = one_entry(bad[i]);
        if (!c)
            continue;
        bool b = false;
        char err[256] = "";
        CHECKF(mk_conf_get_bool(c, c->sections->entries, &b, err, sizeof(err)) < 0,
               "get_bool(%s) accepted", bad[i]);
        CHECK_PREFIX(err, "t.conf:3: Key: ");
        mk_conf_free(c);
    }
    struct mk_conf *c = one_entry("maybe");
    if (c) {
        bool b;
        char err[256];
        mk_conf_get_bool(c, c->sections->entries, &b, err, sizeof(err));
        CHECK_EQ_STR(err, strlen(err), "t.conf:3: Key: expected 'on' or 'off', got 'maybe'");
        mk_conf_free(c);
    }
}

MK_TEST(get_int)
{
    static const struct {
        const char *v;
        long want;
    } ok[] = {{"0", 0}, {"42", 42}, {"10", 10}, {"-3", -3}};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        struct mk_conf *c = one_entry(ok[i].v);
        if (!c)
            continue;
        long v = 12345;
        char err[256] = "";
        CHECKF(mk_conf_get_int(c, c->sections->entries, -5, 100, &v, err, sizeof(err)) == 0,
               "get_int(%s): %s", ok[i].v, err);
        CHECKF(v == ok[i].want, "get_int(%s) = %ld", ok[i].v, v);
        mk_conf_free(c);
    }
    static const char *const bad[] = {"abc", "12x", "0x10", "1.5", "99999999999999999999999",
                                      "1 2", "101", "-6",   "--1", "+15", "+0", "-", "-+1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct mk_conf *c = one_entry(bad[i]);
        if (!c)
            continue;
        long v = 7;
        char err[256] = "";
        CHECKF(mk_conf_get_int(c, c->sections->entries, -5, 100, &v, err, sizeof(err)) < 0,
               "get_int(%s) accepted: %ld", bad[i], v);
        CHECK_PREFIX(err, "t.conf:3: Key: ");
        CHECKF(v == 7, "get_int(%s) wrote *out on error", bad[i]);
        mk_conf_free(c);
    }
    struct mk_conf *c = one_entry("101");
    if (c) {
        long v;
        char err[256];
        mk_conf_get_int(c, c->sections->entries, -5, 100, &v, err, sizeof(err));
        CHECK_EQ_STR(err, strlen(err), "t.conf:3: Key: 101 is out of range [-5, 100]");
        mk_conf_free(c);
    }
    c = one_entry("12x");
    if (c) {
        long v;
        char err[256];
        mk_conf_get_int(c, c->sections->entries, 0, 100, &v, err, sizeof(err));
        CHECK_EQ_STR(err, strlen(err), "t.conf:3: Key: expected a number, got '12x'");
        mk_conf_free(c);
    }
}

MK_TEST(load_files)
{
    char dir[] = "/tmp/mk_test_conf.XXXXXX", path[256], err[256];
    if (!CHECK(mkdtemp(dir) != NULL))
        return;

    snprintf(path, sizeof(path), "%s/ok.conf", dir);
    FILE *f = fopen(path, "w");
    fputs("[SERVER]\n    Listen 2001\n", f);
    fclose(f);
    struct mk_conf *c = mk_conf_load(path, err, sizeof(err));
    if (CHECKF(c != NULL, "load: %s", err)) {
        CHECK(strcmp(c->path, path) == 0);
        CHECK(c->sections && c->sections->entries &&
              strcmp(c->sections->entries->value, "2001") == 0);
    }
    mk_conf_free(c);

    /* errors name the file */
    snprintf(path, sizeof(path), "%s/bad.conf", dir);
    f = fopen(path, "w");
    fputs("[SERVER]\n    Listen 2001\n  Broken\n", f);
    fclose(f);
    c = mk_conf_load(path, err, sizeof(err));
    CHECK(c == NULL);
    char want[300];
    snprintf(want, sizeof(want), "%s:3: Broken: missing value", path);
    CHECK_EQ_STR(err, strlen(err), want);
    unlink(path);

    snprintf(path, sizeof(path), "%s/missing.conf", dir);
    c = mk_conf_load(path, err, sizeof(err));
    CHECK(c == NULL);
    snprintf(want, sizeof(want), "%s: ", path);
    CHECK_PREFIX(err, want);

    /* a directory is not a configuration file */
    c = mk_conf_load(dir, err, sizeof(err));
    CHECK(c == NULL);
    snprintf(want, sizeof(want), "%s: ", dir);
    CHECK_PREFIX(err, want);

    snprintf(path, sizeof(path), "%s/ok.conf", dir);
    unlink(path);
    rmdir(dir);
}

MK_TEST_MAIN("test_conf")
