/* HTTP-date: formatting (IMF-fixdate) and parsing of the three forms of RFC 9110 5.6.7. */
#include "mk_test.h"

#include <limits.h>

#include "core/mk_clock.h"

#define S(lit) (lit), (sizeof(lit) - 1)

/* The "now" the RFC 850 two-digit years are read against in most tests: 1994, so 70-99 are
 * 19xx and 00-44 are 20xx. */
#define NOW_1994 ((time_t)784111777)

/* Parse at a guard page: the parser must read only len bytes. */
static int parse_at(const char *p, size_t len, time_t now, time_t *out)
{
    char *g = guard_copy(p, len);
    int r = mk_http_date_parse(g, len, now, out);
    guard_free(g, len);
    return r;
}

static int parse(const char *p, size_t len, time_t *out)
{
    return parse_at(p, len, NOW_1994, out);
}

static const struct {
    long long t;
    const char *s;
} known[] = {
    {0, "Thu, 01 Jan 1970 00:00:00 GMT"},
    {784111777, "Sun, 06 Nov 1994 08:49:37 GMT"},
    {951782400, "Tue, 29 Feb 2000 00:00:00 GMT"},
    {1709251199, "Thu, 29 Feb 2024 23:59:59 GMT"},
    {2147483647, "Tue, 19 Jan 2038 03:14:07 GMT"},
    {2147483648LL, "Tue, 19 Jan 2038 03:14:08 GMT"},
    {4102444800LL, "Fri, 01 Jan 2100 00:00:00 GMT"},
    {4107499200LL, "Sun, 28 Feb 2100 12:00:00 GMT"},
    {4294967296LL, "Sun, 07 Feb 2106 06:28:16 GMT"},
    {253402300799LL, "Fri, 31 Dec 9999 23:59:59 GMT"},
    {-1, "Wed, 31 Dec 1969 23:59:59 GMT"},
    {-2208988800LL, "Mon, 01 Jan 1900 00:00:00 GMT"},
};

MK_TEST(format_known)
{
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        char buf[MK_HTTP_DATE_LEN + 8];
        memset(buf, '#', sizeof(buf));
        mk_http_date_format((time_t)known[i].t, buf);
        CHECK_EQ_STR(buf, MK_HTTP_DATE_LEN, known[i].s);
        CHECKF(buf[MK_HTTP_DATE_LEN] == '#', "format(%lld) wrote past %d bytes", known[i].t,
               MK_HTTP_DATE_LEN);
    }
    CHECK_EQ_INT(MK_HTTP_DATE_LEN, 29);
}

MK_TEST(parse_known_imf)
{
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        time_t t = 12345;
        int r = parse(known[i].s, strlen(known[i].s), &t);
        CHECKF(r == 0 && (long long)t == known[i].t, "parse(\"%s\") = %d, %lld (expected %lld)",
               known[i].s, r, (long long)t, known[i].t);
    }
}

MK_TEST(parse_three_forms)
{
    static const struct {
        const char *s;
        long long t;
    } ok[] = {
        /* IMF-fixdate */
        {"Sun, 06 Nov 1994 08:49:37 GMT", 784111777},
        /* RFC 850 */
        {"Sunday, 06-Nov-94 08:49:37 GMT", 784111777},
        {"Wednesday, 09-Nov-94 08:49:37 GMT", 784111777 + 3 * 86400},
        {"Thursday, 01-Jan-70 00:00:00 GMT", 0},
        /* asctime */
        {"Sun Nov  6 08:49:37 1994", 784111777},
        {"Wed Nov 16 08:49:37 1994", 784111777 + 10 * 86400},
        {"Tue Feb 29 00:00:00 2000", 951782400},
        {"Thu Jan  1 00:00:00 1970", 0},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        time_t t = 12345;
        int r = parse(ok[i].s, strlen(ok[i].s), &t);
        CHECKF(r == 0 && (long long)t == ok[i].t, "parse(\"%s\") = %d, %lld (expected %lld)",
               ok[i].s, r, (long long)t, ok[i].t);
    }
}

MK_TEST(parse_rejects)
{
    static const char *const bad[] = {
        "",
        "garbage",
        "0",
        "784111777",
        "Sun, 06 Nov 1994 08:49:37 UTC",
        "Sun, 06 Nov 1994 08:49:37 gmt",
        "Sun, 06 Nov 1994 08:49:37 GMT ",
        " Sun, 06 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 08:49:37",
        /* impossible days */
        "Thu, 30 Feb 2012 00:00:00 GMT",
        "Sat, 31 Apr 2000 00:00:00 GMT",
        "Sun, 31 Jun 2001 00:00:00 GMT",
        "Sun, 31 Sep 2001 00:00:00 GMT",
        "Sun, 31 Nov 2001 00:00:00 GMT",
        "Mon, 29 Feb 1999 00:00:00 GMT",
        "Mon, 29 Feb 1900 00:00:00 GMT",
        "Mon, 29 Feb 2100 00:00:00 GMT",
        "Mon, 00 Jan 2000 00:00:00 GMT",
        "Mon, 32 Jan 2000 00:00:00 GMT",
        "Mon, 99 Jan 2000 00:00:00 GMT",
        /* bad fields */
        "Sun, 06 Nov 1994 24:00:00 GMT",
        "Sun, 06 Nov 1994 08:60:00 GMT",
        "Sun, 06 Nov 1994 08:49:61 GMT",
        "Sun, 06 Nov 1994 99:99:99 GMT",
        "Sun, 06 Nov 1994 08-49-37 GMT",
        "Sun, 06 Nov 1994 08:4a:37 GMT",
        "Sun, 06 Nov 19x4 08:49:37 GMT",
        "Sun, 06 nov 1994 08:49:37 GMT",
        "Sun, 06 NOV 1994 08:49:37 GMT",
        "Sun, 06 Xyz 1994 08:49:37 GMT",
        "Sun, 0x 1994 08:49:37 GMT",
        "Sun, -6 Nov 1994 08:49:37 GMT",
        "Sun, +6 Nov 1994 08:49:37 GMT",
        "Sun,  6 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 +8:49:37 GMT",
        /* bad spacing around the weekday, day and fields */
        "Sun,06 Nov 1994 08:49:37 GMT",
        "Sun ,06 Nov 1994 08:49:37 GMT",
        "Sun,  06 Nov 1994 08:49:37 GMT",
        "Sun, 06  Nov 1994 08:49:37 GMT",
        "Sun, 6 Nov 1994 08:49:37 GMT",
        "Sun, 06-Nov-1994 08:49:37 GMT",
        "Sun; 06 Nov 1994 08:49:37 GMT",
        /* a weekday that is no day-name: not an HTTP-date (RFC 9110 5.6.7), and an
         * If-Modified-Since that is not a valid HTTP-date MUST be ignored (13.1.3) */
        "Xyz, 06 Nov 1994 08:49:37 GMT",
        "123, 06 Nov 1994 08:49:37 GMT",
        "   , 06 Nov 1994 08:49:37 GMT",
        "Funday, 06-Nov-94 08:49:37 GMT",
        "Xyz Nov  6 08:49:37 1994",
        /* RFC 850 */
        "Sunday, 06-Nov-94 24:49:37 GMT",
        "Sunday, 31-Apr-94 08:49:37 GMT",
        "Sunday,06-Nov-94 08:49:37 GMT",
        "Sunday, 06 Nov 94 08:49:37 GMT",
        "Sunday, 06-Nov-94 08:49:37 UTC",
        "Sunday, 06-Nov-9x 08:49:37 GMT",
        /* asctime */
        "Sun Nov 6 08:49:37 1994",
        "Sun Nov  6 08:49:37 94",
        "Sun Nov  6 24:49:37 1994",
        "Sun Feb 30 08:49:37 1994",
        "Sun Nov  6 08:49:37 1994 ",
        "Sun Nov    08:49:37 1994",
        "Sun Xyz  6 08:49:37 1994",
        "Sun Nov  6 08:49:37 19x4",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        time_t t = 0;
        int r = parse(bad[i], strlen(bad[i]), &t);
        CHECKF(r < 0, "parse(\"%s\") accepted as %lld", bad[i], (long long)t);
    }
    /* a NUL inside */
    time_t t;
    CHECK(parse(S("Sun, 06 Nov 1994 08:49:37 G\0T"), &t) < 0);
    CHECK(parse(S("Sun, 06 Nov\0"
                  "1994 08:49:37 GMT"),
                &t) < 0);
}

MK_TEST(parse_rejects_truncated)
{
    static const char *const forms[] = {"Sun, 06 Nov 1994 08:49:37 GMT",
                                        "Sunday, 06-Nov-94 08:49:37 GMT",
                                        "Sun Nov  6 08:49:37 1994"};
    for (size_t f = 0; f < sizeof(forms) / sizeof(forms[0]); f++) {
        size_t n = strlen(forms[f]);
        size_t bad = SIZE_MAX;
        for (size_t k = 0; k < n; k++) {
            time_t t;
            if (parse(forms[f], k, &t) == 0) {
                bad = k;
                break;
            }
        }
        CHECKF(bad == SIZE_MAX, "the first %zu bytes of \"%s\" were accepted", bad, forms[f]);
    }
}

MK_TEST(round_trip)
{
    /* every ~37 hours plus odd seconds from 1970 to 2200, and around each year's end */
    long long bad = LLONG_MIN;
    char buf[MK_HTTP_DATE_LEN];
    for (long long t = 0; t < 7258118400LL && bad == LLONG_MIN; t += 133337) {
        time_t back = -1;
        mk_http_date_format((time_t)t, buf);
        if (parse(buf, sizeof(buf), &back) != 0 || (long long)back != t)
            bad = t;
    }
    CHECKF(bad == LLONG_MIN, "round trip failed at %lld", bad);

    bad = LLONG_MIN;
    for (int y = 1970; y < 2400 && bad == LLONG_MIN; y++) {
        /* midnight of 1 Jan y, and the second before it */
        long long days = 0;
        for (int k = 1970; k < y; k++)
            days += 365 + ((k % 4 == 0 && k % 100 != 0) || k % 400 == 0);
        for (long long t = days * 86400 - 1; t <= days * 86400 + 86400 * 60; t += 86400 * 59 + 1) {
            time_t back = -1;
            mk_http_date_format((time_t)t, buf);
            if (parse(buf, sizeof(buf), &back) != 0 || (long long)back != t) {
                bad = t;
                break;
            }
        }
    }
    CHECKF(bad == LLONG_MIN, "round trip failed at %lld", bad);
}

/* RFC 9110 5.6.7: a two-digit year that would be more than 50 years in the future is the
 * most recent past year with those digits. */
MK_TEST(rfc850_two_digit_years)
{
    static const struct {
        int now_year;
        const char *date;
        int year;
    } cases[] = {
        {2026, "Thursday, 01-Jan-70 00:00:00 GMT", 2070}, /* 44 years ahead: kept */
        {2026, "Wednesday, 01-Jan-76 00:00:00 GMT", 2076}, /* exactly 50 ahead: kept */
        {2026, "Saturday, 01-Jan-77 00:00:00 GMT", 1977},  /* 51 ahead: a century back */
        {2026, "Sunday, 06-Nov-94 08:49:37 GMT", 1994},
        {2026, "Monday, 01-Jan-24 00:00:00 GMT", 2024},
        {1994, "Thursday, 01-Jan-70 00:00:00 GMT", 1970},
        {1994, "Saturday, 01-Jan-44 00:00:00 GMT", 2044},
        {1994, "Monday, 01-Jan-45 00:00:00 GMT", 1945},
        {2090, "Friday, 01-Jan-10 00:00:00 GMT", 2110},    /* 80 years back is not "recent" */
        {2090, "Sunday, 01-Jan-40 00:00:00 GMT", 2140},
        {2090, "Monday, 01-Jan-41 00:00:00 GMT", 2041},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct tm at = {.tm_year = cases[i].now_year - 1900, .tm_mon = 5, .tm_mday = 1};
        time_t now = timegm(&at), t = 0;
        int r = parse_at(cases[i].date, strlen(cases[i].date), now, &t);
        struct tm got;
        gmtime_r(&t, &got);
        CHECKF(r == 0 && got.tm_year + 1900 == cases[i].year, "in %d, \"%s\" read as %d (rc %d)",
               cases[i].now_year, cases[i].date, got.tm_year + 1900, r);
    }
}

MK_TEST(clock_update)
{
    mk_clock_update();
    time_t now = time(NULL);
    CHECK(mk_clock.now >= now - 2 && mk_clock.now <= now + 2);
    CHECK_EQ_INT(strlen(mk_clock.date), MK_HTTP_DATE_LEN);
    time_t back;
    CHECK(mk_http_date_parse(mk_clock.date, MK_HTTP_DATE_LEN, mk_clock.now, &back) == 0 &&
          back == mk_clock.now);
    uint64_t a = mk_clock_ns(), b = mk_clock_ns();
    CHECK(b >= a);
}

MK_TEST_MAIN("test_date")
