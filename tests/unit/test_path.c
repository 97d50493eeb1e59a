/* mk_path_normalize (decode once, remove dot segments, refuse what must not reach the file
 * system) and mk_html_escape. */
#include "mk_test.h"

#include "http/mk_path.h"

#define S(lit) (lit), (sizeof(lit) - 1)

/* Normalise src[0, len) read from a guard page into a dst of exactly len + 1 bytes that is
 * also followed by a guard page: reading or writing one byte too far crashes. */
static int norm(const char *src, size_t len, char *out, size_t cap)
{
    char *in = guard_copy(src, len);
    char *zeros = calloc(1, len + 1);
    char *dst = guard_copy(zeros, len + 1);
    free(zeros);
    int r = mk_path_normalize(in, len, dst);
    if (r >= 0 && (size_t)r < cap) {
        memcpy(out, dst, (size_t)r);
        out[r] = '\0';
        CHECKF(dst[r] == '\0', "result not NUL-terminated");
    }
    guard_free(dst, len + 1);
    guard_free(in, len);
    return r;
}

static const struct {
    const char *in;
    size_t in_len;
    const char *out; /* NULL: an error */
    size_t out_len;
    int err;
} cases[] = {
#define OK(i, o)                                                                                   \
    {                                                                                              \
        (i), sizeof(i) - 1, (o), sizeof(o) - 1, 0                                                  \
    }
#define ERR(i, e)                                                                                  \
    {                                                                                              \
        (i), sizeof(i) - 1, NULL, 0, (e)                                                           \
    }
    OK("/", "/"),
    OK("/index.html", "/index.html"),
    OK("/a/b/c.txt", "/a/b/c.txt"),
    /* decoded exactly once */
    OK("/%69ndex.html", "/index.html"),
    OK("/%41%42%43", "/ABC"),
    OK("/%7e%7E", "/~~"),
    OK("/%252e", "/%2e"),
    OK("/%252e%252e/", "/%2e%2e/"),
    OK("/%2541", "/%41"),
    OK("/a%2fb", "/a/b"),
    OK("/a%20b", "/a b"),
    OK("/%e2%82%ac", "/\xe2\x82\xac"),
    OK("/\xe2\x82\xac", "/\xe2\x82\xac"),
    /* dot segments */
    OK("/a/../b", "/b"),
    OK("/a/b/../../c", "/c"),
    OK("/a/b/../c", "/a/c"),
    OK("/a/..", "/"),
    OK("/a/../", "/"),
    OK("/a/b/..", "/a/"),
    OK("/a/b/%2e%2e", "/a/"),
    OK("/a/%2e%2e/b", "/b"),
    OK("/a/%2E%2E/b", "/b"),
    OK("/./a", "/a"),
    OK("/a/./b", "/a/b"),
    OK("/a/.", "/a/"),
    OK("/.", "/"),
    OK("/./", "/"),
    OK("/%2e/a", "/a"),
    OK("/a/./././b/", "/a/b/"),
    OK("/...", "/..."),
    OK("/.../", "/.../"),
    OK("/..a", "/..a"),
    OK("/a..", "/a.."),
    OK("/.a/.b", "/.a/.b"),
    OK("/a/.../..", "/a/"),
    /* empty segments collapse, a trailing slash stays */
    OK("//a//b", "/a/b"),
    OK("/a//", "/a/"),
    OK("///", "/"),
    OK("/dir/", "/dir/"),
    OK("/a/b/", "/a/b/"),
    /* '\' is an ordinary byte, not a separator, whether raw or encoded */
    OK("/a\\b", "/a\\b"),
    OK("/%5c", "/\\"),
    OK("/%5C", "/\\"),
    OK("/..\\", "/..\\"),
    OK("/\\..", "/\\.."),
    OK("/%5c..%5c", "/\\..\\"),
    OK("/a/..\\..\\b", "/a/..\\..\\b"),
    /* overlong UTF-8 for '.' is two bytes, not a dot */
    OK("/%c0%ae", "/\xc0\xae"),
    OK("/%c0%ae%c0%ae/", "/\xc0\xae\xc0\xae/"),
    OK("/%c0%ae%c0%ae/x", "/\xc0\xae\xc0\xae/x"),
    OK("/%e0%80%ae%e0%80%ae/", "/\xe0\x80\xae\xe0\x80\xae/"),
    /* climbing above the root */
    ERR("/..", -403),
    ERR("/../", -403),
    ERR("/../etc/passwd", -403),
    ERR("/a/../../b", -403),
    ERR("/a/b/../../../c", -403),
    ERR("/./..", -403),
    ERR("//..", -403),
    ERR("/%2e%2e/", -403),
    ERR("/%2e%2e", -403),
    ERR("/%2E%2e/x", -403),
    ERR("/.%2e/", -403),
    ERR("/%2e./", -403),
    ERR("/..%2f", -403),
    ERR("/..%2fetc%2fpasswd", -403),
    ERR("/a/..%2f..%2f", -403),
    ERR("/sub/%2e%2e/%2e%2e/x", -403),
    /* malformed escapes */
    ERR("/%", -400),
    ERR("/a%", -400),
    ERR("/%z", -400),
    ERR("/%zz", -400),
    ERR("/%2", -400),
    ERR("/%2g", -400),
    ERR("/%g2", -400),
    ERR("/%%41", -400),
    ERR("/% 1", -400),
    ERR("/%-1", -400),
    ERR("/%+1", -400),
    /* NUL and control bytes, encoded or raw */
    ERR("/%00", -400),
    ERR("/index.html%00.txt", -400),
    ERR("/a\0b", -400),
    ERR("/%01", -400),
    ERR("/%0a", -400),
    ERR("/%0d%0aSet-Cookie:x", -400),
    ERR("/%1f", -400),
    ERR("/%7f", -400),
    ERR("/\x01", -400),
    ERR("/\n", -400),
    ERR("/\x7f", -400),
    ERR("/\t", -400),
    ERR("/%09", -400),
    /* not a path */
    ERR("", -400),
    ERR("a", -400),
    ERR("index.html", -400),
    ERR("%2f", -400),
#undef OK
#undef ERR
};

MK_TEST(normalize_table)
{
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char out[256], r1[128], r2[128], r3[128];
        int r = norm(cases[i].in, cases[i].in_len, out, sizeof(out));
        const char *in = mk_test_repr(cases[i].in, cases[i].in_len, r1, sizeof(r1));
        if (cases[i].out) {
            if (CHECKF(r >= 0, "normalize(\"%s\") = %d, expected \"%s\"", in, r,
                       mk_test_repr(cases[i].out, cases[i].out_len, r2, sizeof(r2))))
                CHECKF((size_t)r == cases[i].out_len && memcmp(out, cases[i].out, (size_t)r) == 0,
                       "normalize(\"%s\") = \"%s\", expected \"%s\"", in,
                       mk_test_repr(out, (size_t)r, r3, sizeof(r3)),
                       mk_test_repr(cases[i].out, cases[i].out_len, r2, sizeof(r2)));
        } else {
            CHECKF(r == cases[i].err, "normalize(\"%s\") = %d, expected %d", in, r, cases[i].err);
        }
    }
}

/* How many strings of len symbols an alphabet of nsym spells. */
static unsigned long strings_of(int len, size_t nsym)
{
    unsigned long total = 1;
    for (int k = 0; k < len; k++)
        total *= nsym;
    return total;
}

/* The code-th of them, after a leading '/', into out (len + 1 bytes). */
static void spell_path(unsigned long code, int len, const char *alphabet, size_t nsym, char *out)
{
    out[0] = '/';
    for (int k = 0; k < len; k++) {
        out[1 + k] = alphabet[code % nsym];
        code /= nsym;
    }
}

/* Whatever the input, a successful result starts with '/', contains no "." or ".." segment,
 * no "//", no NUL or control byte, and normalising it again changes nothing. */
MK_TEST(normalize_properties)
{
    static const char alphabet[] = {'/', '.', '%', '2', 'e', 'f', 'a', '5', 'c', '\\', '0'};
    char in[12], out[64], again[64];
    unsigned long bad = 0, n = 0;
    char why[128] = "";

    /* every string of up to 6 symbols after the leading '/' (11^6 ~ 1.8M, ~1 s) */
    for (int len = 0; len <= 6 && !bad; len++) {
        unsigned long total = strings_of(len, sizeof(alphabet));
        for (unsigned long code = 0; code < total && !bad; code++) {
            spell_path(code, len, alphabet, sizeof(alphabet), in);
            size_t il = (size_t)len + 1;
            int r = mk_path_normalize(in, il, out);
            n++;
            if (r == -400 || r == -403)
                continue;
            if (r <= 0 || (size_t)r > il) {
                snprintf(why, sizeof(why), "returned %d", r);
                bad = code + 1;
            } else if (out[0] != '/' || out[r] != '\0') {
                snprintf(why, sizeof(why), "no leading '/' or NUL");
                bad = code + 1;
            } else {
                for (int k = 0; k < r && !bad; k++) {
                    if (out[k] == '/' && k + 1 < r && out[k + 1] == '/')
                        snprintf(why, sizeof(why), "'//' at %d", k), bad = code + 1;
                    if (out[k] == '/' && k + 1 < r && out[k + 1] == '.' &&
                        (k + 2 == r || out[k + 2] == '/'))
                        snprintf(why, sizeof(why), "'.' segment at %d", k), bad = code + 1;
                    if (out[k] == '/' && k + 2 < r && out[k + 1] == '.' && out[k + 2] == '.' &&
                        (k + 3 == r || out[k + 3] == '/'))
                        snprintf(why, sizeof(why), "'..' segment at %d", k), bad = code + 1;
                    if ((unsigned char)out[k] < 0x20)
                        snprintf(why, sizeof(why), "control byte at %d", k), bad = code + 1;
                }
                if (!bad && !memchr(out, '%', (size_t)r)) {
                    /* without '%' a second pass decodes nothing: it must be a fixed point */
                    int r2 = mk_path_normalize(out, (size_t)r, again);
                    if (r2 != r || memcmp(out, again, (size_t)r) != 0)
                        snprintf(why, sizeof(why), "not idempotent"), bad = code + 1;
                }
            }
            if (bad) {
                char rep[64];
                CHECKF(0, "normalize(\"%s\"): %s", mk_test_repr(in, il, rep, sizeof(rep)), why);
            }
        }
    }
    CHECKF(!bad, "%lu inputs", n);
}

/* The fast check (step 0: nothing to decode, no dot or empty segment) must give what the
 * decoding path gives.  Every string of up to 8 symbols is normalised as is and with its
 * 'a's written as "%61", which forces the decoding path: the results must be equal. */
MK_TEST(normalize_fast_path_agrees)
{
    static const char alphabet[] = {'/', '.', 'a', 'b', '\\'};
    char in[16], enc[48], o1[64], o2[64], rep[64];
    unsigned long n = 0, bad = 0;

    for (int len = 1; len <= 8 && !bad; len++) {
        unsigned long total = strings_of(len, sizeof(alphabet));
        for (unsigned long code = 0; code < total && !bad; code++) {
            size_t il = (size_t)len + 1, el = 1;
            bool has_a = false;
            spell_path(code, len, alphabet, sizeof(alphabet), in);
            enc[0] = '/';
            for (int k = 0; k < len; k++) {
                char ch = in[1 + k];
                if (ch == 'a') {
                    memcpy(enc + el, "%61", 3);
                    el += 3;
                    has_a = true;
                } else {
                    enc[el++] = ch;
                }
            }
            if (!has_a)
                continue;
            n++;
            int r1 = mk_path_normalize(in, il, o1);
            int r2 = mk_path_normalize(enc, el, o2);
            if (r1 != r2 || (r1 > 0 && memcmp(o1, o2, (size_t)r1) != 0)) {
                bad++;
                CHECKF(0, "normalize(\"%s\") = %d, its encoded form gives %d",
                       mk_test_repr(in, il, rep, sizeof(rep)), r1, r2);
            }
        }
    }
    CHECKF(n > 100000 && !bad, "%lu inputs compared", n);
}

MK_TEST(html_escape)
{
    static const char in[] = "a<b>&\"'c";
    static const char want[] = "a&lt;b&gt;&amp;&quot;&#39;c";
    char out[64];
    size_t n = mk_html_escape(S(in), out, sizeof(out));
    CHECK_EQ_STR(out, n, want);

    n = mk_html_escape(S("plain text \xc3\xa9 / 100%"), out, sizeof(out));
    CHECK_EQ_STR(out, n, "plain text \xc3\xa9 / 100%");
    n = mk_html_escape("", 0, out, sizeof(out));
    CHECK_EQ_INT(n, 0);
    n = mk_html_escape(S("<<<"), out, sizeof(out));
    CHECK_EQ_STR(out, n, "&lt;&lt;&lt;");
    /* the input length, not a NUL, ends it */
    n = mk_html_escape(S("a\0<"), out, sizeof(out));
    CHECK_EQ_INT(n, 2 + 4);
    CHECK(out[1] == '\0' && memcmp(out + 2, "&lt;", 4) == 0);
}

/* With any capacity, the output is the escape of a prefix of the input, never an entity cut
 * in half, and not one byte is written past cap (the buffer ends at a guard page). */
MK_TEST(html_escape_truncation)
{
    static const char in[] = "x&<y>\"'z&&";
    char full[128];
    size_t full_n = mk_html_escape(S(in), full, sizeof(full));
    CHECK_EQ_STR(full, full_n, "x&amp;&lt;y&gt;&quot;&#39;z&amp;&amp;");

    for (size_t cap = 0; cap <= full_n + 2; cap++) {
        char *zeros = calloc(1, cap + 1);
        char *dst = guard_copy(zeros, cap);
        free(zeros);
        size_t n = mk_html_escape(S(in), dst, cap);
        bool ok = n <= cap;
        /* the longest prefix of the input whose escape fits */
        size_t best = 0;
        for (size_t k = 0; k <= sizeof(in) - 1; k++) {
            char tmp[128];
            size_t m = mk_html_escape(in, k, tmp, sizeof(tmp));
            if (m <= cap)
                best = m;
        }
        if (ok)
            ok = n == best && memcmp(dst, full, n) == 0;
        CHECKF(ok, "cap %zu: wrote %zu bytes, expected the %zu-byte prefix \"%.*s\"", cap, n, best,
               (int)best, full);
        guard_free(dst, cap);
    }
}

MK_TEST_MAIN("test_path")
