/* mk_mime: extension -> Content-Type, case-insensitive, by the last extension of the file
 * name (never of a directory name), and the bundled conf/monkey.mime. */
#include "mk_test.h"

#include "http/mk_mime.h"

#define DFLT "application/octet-stream"

static const char *lookup(const struct mk_mime_table *t, const char *name)
{
    /* the name ends at a guard page: lookup must read only len bytes */
    size_t len = strlen(name);
    char *g = guard_copy(name, len);
    const char *r = mk_mime_lookup(t, g, len, DFLT);
    guard_free(g, len);
    return r;
}

#define CHECK_MIME(t, name, want)                                                                  \
    __extension__({                                                                                \
        const char *mk__got = lookup((t), (name));                                                 \
        CHECKF(mk__got &&strcmp(mk__got, (want)) == 0, "lookup(\"%s\") = \"%s\", expected \"%s\"", \
               (name), mk__got ? mk__got : "(null)", (want));                                      \
    })

MK_TEST(add_and_lookup)
{
    struct mk_mime_table *t = mk_mime_new();
    CHECK_EQ_INT(mk_mime_add(t, "html", "text/html"), 0);
    CHECK_EQ_INT(mk_mime_add(t, "gz", "application/gzip"), 0);
    CHECK_EQ_INT(mk_mime_add(t, "tar", "application/x-tar"), 0);
    CHECK_EQ_INT(mk_mime_add(t, "PNG", "image/png"), 0);
    CHECK_EQ_INT(mk_mime_add(t, "css", "text/css"), 0);
    CHECK_EQ_INT(mk_mime_add(t, "b", "text/x-b"), 0);

    CHECK_MIME(t, "index.html", "text/html");
    CHECK_MIME(t, "/a/b/index.html", "text/html");
    CHECK_MIME(t, "INDEX.HTML", "text/html");
    CHECK_MIME(t, "x.HtMl", "text/html");
    CHECK_MIME(t, "logo.png", "image/png"); /* added upper-case, looked up lower-case */
    CHECK_MIME(t, "logo.PNG", "image/png");
    CHECK_MIME(t, "a.tar.gz", "application/gzip"); /* the last extension wins */
    CHECK_MIME(t, "a.gz.tar", "application/x-tar");
    CHECK_MIME(t, "a.html.unknown", DFLT);
    CHECK_MIME(t, "README", DFLT);
    CHECK_MIME(t, "/a.b/c", DFLT); /* a dot in a directory name is no extension */
    CHECK_MIME(t, "/a.html/c", DFLT);
    CHECK_MIME(t, "/dir.css/", DFLT);
    CHECK_MIME(t, "/a.b/c.css", "text/css");
    CHECK_MIME(t, "file.", DFLT);
    CHECK_MIME(t, "", DFLT);
    CHECK_MIME(t, ".", DFLT);
    CHECK_MIME(t, "/", DFLT);
    CHECK_MIME(t, "a.htm", DFLT); /* no prefix matching */
    CHECK_MIME(t, "a.htmlx", DFLT);
    CHECK_MIME(t, "a.bb", DFLT);
    CHECK_MIME(t, "a.b", "text/x-b");
    CHECK_MIME(t, "a.thisextensionislongerthanthirtytwobytes", DFLT);

    /* len, not the NUL, ends the name */
    CHECK(strcmp(mk_mime_lookup(t, "a.html.gz", 6, DFLT), "text/html") == 0);
    CHECK(strcmp(mk_mime_lookup(t, "a.css", 0, DFLT), DFLT) == 0);

    /* no table: the default */
    CHECK(strcmp(mk_mime_lookup(NULL, "a.html", 6, DFLT), DFLT) == 0);
    CHECK(mk_mime_lookup(t, "x", 1, NULL) == NULL);
    mk_mime_free(t);
}

/* A table with no entry at all (bsearch must not be handed its NULL array: UB, which
 * -fsanitize=undefined reports). */
MK_TEST(lookup_on_empty_table)
{
    struct mk_mime_table *t = mk_mime_new();
    CHECK_MIME(t, "a.txt", DFLT);
    CHECK_MIME(t, "README", DFLT);
    mk_mime_free(t);
}

MK_TEST(add_refuses_bad_entries)
{
    struct mk_mime_table *t = mk_mime_new();
    CHECK(mk_mime_add(t, "", "text/plain") < 0);
    CHECK(mk_mime_add(t, "a.b", "text/plain") < 0);
    CHECK(mk_mime_add(t, "a/b", "text/plain") < 0);
    CHECK(mk_mime_add(t, "abcdefghijklmnopqrstuvwxyzabcdefg", "text/plain") < 0); /* 33 bytes */
    CHECK(mk_mime_add(t, "txt", "") < 0);
    CHECK(mk_mime_add(t, "txt", "textplain") < 0);
    /* a type that would inject a header line */
    CHECK(mk_mime_add(t, "txt", "text/plain\r\nSet-Cookie: x=1") < 0);
    CHECK(mk_mime_add(t, "txt", "text/plain\n") < 0);
    CHECK(mk_mime_add(t, "txt", "text/\x7f") < 0);
    CHECK_MIME(t, "a.txt", DFLT);
    CHECK_EQ_INT(mk_mime_add(t, "abcdefghijklmnopqrstuvwxyzabcdef", "text/x-long"), 0);
    CHECK_MIME(t, "a.abcdefghijklmnopqrstuvwxyzabcdef", "text/x-long");
    mk_mime_free(t);
    mk_mime_free(NULL);
}

/* What is sent as Content-Type must be a media type (RFC 9110 8.3.1): DefaultMimeType and
 * monkey.mime are both checked with it. */
MK_TEST(media_type_syntax)
{
    static const char *const good[] = {
        "text/plain", "application/octet-stream", "image/svg+xml", "a/b",
        "text/html; charset=utf-8", "text/html;charset=UTF-8", "text/html ; a=b ;c=d",
        "text/plain; name=\"a b; \\\"c\\\"\"", "text/plain;", "text/plain;;a=b", "x/y ",
        "vnd.!#$%&'*+-.^_`|~/z",
    };
    static const char *const bad[] = {
        "", "/", "text", "text/", "/plain", "text/a b", "text /plain", "text/ plain",
        "text/plain\rX-Injected: 1", "text/plain\r\nX: 1", "text/plain\n", "text/plain; a",
        "text/plain; a=", "text/plain; =b", "text/plain; a=\"open", "text/plain; a=\"\r\"",
        "text/plain; a=b c", "text/pl@in", "t\x7f/x", "text/plain,text/html", "\x80/x",
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        CHECKF(mk_mime_type_valid(good[i]), "\"%s\" refused", good[i]);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECKF(!mk_mime_type_valid(bad[i]), "\"%s\" accepted", bad[i]);
    /* The longest type accepted fits every head the server builds (mk_range's part headers). */
    char longest[MK_MIME_TYPE_MAX + 2];
    memcpy(longest, "text/x", 6);
    memset(longest + 6, 'a', MK_MIME_TYPE_MAX - 6);
    longest[MK_MIME_TYPE_MAX] = '\0';
    CHECK(mk_mime_type_valid(longest));
    longest[MK_MIME_TYPE_MAX] = 'a';
    longest[MK_MIME_TYPE_MAX + 1] = '\0';
    CHECK(!mk_mime_type_valid(longest));
    struct mk_mime_table *t = mk_mime_new();
    CHECK(mk_mime_add(t, "abc", "text/a b") < 0);
    CHECK(mk_mime_add(t, "abc", longest) < 0);
    CHECK_EQ_INT(mk_mime_add(t, "txt", "text/plain; charset=utf-8"), 0);
    CHECK_MIME(t, "a.txt", "text/plain; charset=utf-8");
    mk_mime_free(t);
}

MK_TEST(many_entries)
{
    /* past the initial capacity, every entry is still found */
    struct mk_mime_table *t = mk_mime_new();
    char ext[16], type[32];
    for (int i = 0; i < 500; i++) {
        snprintf(ext, sizeof(ext), "e%d", i);
        snprintf(type, sizeof(type), "x/t%d", i);
        CHECK_EQ_INT(mk_mime_add(t, ext, type), 0);
    }
    int bad = -1;
    for (int i = 0; i < 500 && bad < 0; i++) {
        char name[32];
        snprintf(name, sizeof(name), "f.E%d", i);
        snprintf(type, sizeof(type), "x/t%d", i);
        const char *got = mk_mime_lookup(t, name, strlen(name), DFLT);
        if (strcmp(got, type) != 0)
            bad = i;
    }
    CHECKF(bad < 0, "entry e%d not found", bad);
    mk_mime_free(t);
}

static const char *mime_path(void)
{
    static const char *const candidates[] = {"conf/monkey.mime", "../conf/monkey.mime",
                                             "../../conf/monkey.mime"};
    for (size_t i = 0; i < sizeof(candidates) / sizeof(candidates[0]); i++)
        if (access(candidates[i], R_OK) == 0)
            return candidates[i];
    return NULL;
}

MK_TEST(load_bundled_file)
{
    const char *path = mime_path();
    if (!CHECKF(path != NULL, "conf/monkey.mime not found (run from the repository root)"))
        return;
    char err[256] = "";
    struct mk_mime_table *t = mk_mime_load(path, err, sizeof(err));
    if (!CHECKF(t != NULL, "mk_mime_load(%s): %s", path, err))
        return;
    CHECK_MIME(t, "/index.html", "text/html");
    CHECK_MIME(t, "/INDEX.HTM", "text/html");
    CHECK_MIME(t, "/style.css", "text/css");
    CHECK_MIME(t, "/img/logo.png", "image/png");
    CHECK_MIME(t, "/app.js", "text/javascript");
    CHECK_MIME(t, "/data.json", "application/json");
    CHECK_MIME(t, "/no_extension", DFLT);
    mk_mime_free(t);
}

MK_TEST(load_errors)
{
    char dir[] = "/tmp/mk_test_mime.XXXXXX", path[256], err[256], want[300];
    if (!CHECK(mkdtemp(dir) != NULL))
        return;
    snprintf(path, sizeof(path), "%s/m.mime", dir);

    FILE *f = fopen(path, "w");
    fputs("[MIMETYPES]\n    html text/html\n[OTHER]\n    x y/z\n", f);
    fclose(f);
    CHECK(mk_mime_load(path, err, sizeof(err)) == NULL);
    snprintf(want, sizeof(want), "%s:3: ", path);
    CHECKF(strncmp(err, want, strlen(want)) == 0, "error \"%s\"", err);

    f = fopen(path, "w");
    fputs("[MIMETYPES]\n    html text/html\n    bad notatype\n", f);
    fclose(f);
    CHECK(mk_mime_load(path, err, sizeof(err)) == NULL);
    snprintf(want, sizeof(want), "%s:3: ", path);
    CHECKF(strncmp(err, want, strlen(want)) == 0, "error \"%s\"", err);

    f = fopen(path, "w");
    fputs("[MIMETYPES]\n    html\n", f);
    fclose(f);
    CHECK(mk_mime_load(path, err, sizeof(err)) == NULL);
    snprintf(want, sizeof(want), "%s:2: ", path);
    CHECKF(strncmp(err, want, strlen(want)) == 0, "error \"%s\"", err);

    unlink(path);
    rmdir(dir);
}

MK_TEST_MAIN("test_mime")
