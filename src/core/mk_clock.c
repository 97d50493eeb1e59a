#include "mk_clock.h"

#include <string.h>

__thread struct mk_clock mk_clock;

static const char wdays[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

uint64_t mk_clock_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

bool mk_clock_update(void)
{
    struct timespec mono, real;

    /* The coarse clocks are read from the vDSO without a system call; their resolution
     * (a few ms) is plenty for timeouts and Date. */
    clock_gettime(CLOCK_MONOTONIC_COARSE, &mono);
    clock_gettime(CLOCK_REALTIME_COARSE, &real);
    mk_clock.mono_ns = (uint64_t)mono.tv_sec * 1000000000u + (uint64_t)mono.tv_nsec;
    mk_clock.mono_sec = (uint32_t)mono.tv_sec;
    if (real.tv_sec == mk_clock.now && mk_clock.date[0])
        return false;
    mk_clock.now = real.tv_sec;
    mk_http_date_format(real.tv_sec, mk_clock.date);
    mk_clock.date[MK_HTTP_DATE_LEN] = '\0';
    return true;
}

static void put2(char *p, int v)
{
    p[0] = (char)('0' + v / 10);
    p[1] = (char)('0' + v % 10);
}

void mk_http_date_format(time_t t, char *dst)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    memcpy(dst, wdays[tm.tm_wday], 3);
    dst[3] = ',';
    dst[4] = ' ';
    put2(dst + 5, tm.tm_mday);
    dst[7] = ' ';
    memcpy(dst + 8, months[tm.tm_mon], 3);
    dst[11] = ' ';
    int y = tm.tm_year + 1900;
    put2(dst + 12, (y / 100) % 100);
    put2(dst + 14, y % 100);
    dst[16] = ' ';
    put2(dst + 17, tm.tm_hour);
    dst[19] = ':';
    put2(dst + 20, tm.tm_min);
    dst[22] = ':';
    put2(dst + 23, tm.tm_sec);
    memcpy(dst + 25, " GMT", 4);
}

static int parse_num(const char *p, size_t n, int *out)
{
    int v = 0;
    if (n == 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        v = v * 10 + (p[i] - '0');
    }
    *out = v;
    return 0;
}

static int parse_wday(const char *p)
{
    for (int i = 0; i < 7; i++)
        if (memcmp(p, wdays[i], 3) == 0)
            return i;
    return -1;
}

/* RFC 850 uses full day names: "Sunday". */
static int parse_long_wday(const char *p, size_t n)
{
    static const char *const names[7] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                         "Thursday", "Friday", "Saturday"};
    for (int i = 0; i < 7; i++)
        if (strlen(names[i]) == n && memcmp(p, names[i], n) == 0)
            return i;
    return -1;
}

static int parse_month(const char *p)
{
    for (int i = 0; i < 12; i++)
        if (memcmp(p, months[i], 3) == 0)
            return i;
    return -1;
}

static int parse_time(const char *p, int *h, int *m, int *s)
{
    if (p[2] != ':' || p[5] != ':')
        return -1;
    if (parse_num(p, 2, h) || parse_num(p + 3, 2, m) || parse_num(p + 6, 2, s))
        return -1;
    return (*h > 23 || *m > 59 || *s > 60) ? -1 : 0;
}

static bool is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static int make_time(int year, int mon, int day, int h, int mi, int s, time_t *out)
{
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (mon < 0 || mon > 11 || day < 1)
        return -1;
    int max = mdays[mon] + (mon == 1 && is_leap(year));
    if (day > max)
        return -1;
    int64_t days = days_from_civil(year, (unsigned)mon + 1, (unsigned)day);
    *out = (time_t)(days * 86400 + h * 3600 + mi * 60 + s);
    return 0;
}

int mk_http_date_parse(const char *p, size_t len, time_t now, time_t *out)
{
    int day, year, h, m, s, mon;

    /* IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT" */
    if (len == 29 && p[3] == ',' && p[4] == ' ' && p[7] == ' ' && p[11] == ' ' &&
        p[16] == ' ' && memcmp(p + 25, " GMT", 4) == 0) {
        if (parse_wday(p) < 0 || parse_num(p + 5, 2, &day) || (mon = parse_month(p + 8)) < 0 ||
            parse_num(p + 12, 4, &year) || parse_time(p + 17, &h, &m, &s))
            return -1;
        return make_time(year, mon, day, h, m, s, out);
    }
    /* asctime: "Sun Nov  6 08:49:37 1994" */
    if (len == 24 && p[3] == ' ' && p[7] == ' ' && p[10] == ' ' && p[19] == ' ') {
        char d[2] = {p[8] == ' ' ? '0' : p[8], p[9]};
        if (parse_wday(p) < 0 || parse_num(d, 2, &day) || (mon = parse_month(p + 4)) < 0 ||
            parse_time(p + 11, &h, &m, &s) || parse_num(p + 20, 4, &year))
            return -1;
        return make_time(year, mon, day, h, m, s, out);
    }
    /* RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT" */
    const char *c = memchr(p, ',', len < 10 ? len : 10);
    if (c && (size_t)(p + len - c) == 24 && c[1] == ' ' && c[4] == '-' && c[8] == '-' &&
        c[11] == ' ' && memcmp(c + 20, " GMT", 4) == 0) {
        if (parse_long_wday(p, (size_t)(c - p)) < 0 || parse_num(c + 2, 2, &day) ||
            (mon = parse_month(c + 5)) < 0 ||
            parse_num(c + 9, 2, &year) || parse_time(c + 12, &h, &m, &s))
            return -1;
        /* Two digits: the year with those last digits in the century around now, and a
         * year more than 50 years ahead is the one a century earlier (RFC 9110 5.6.7). */
        struct tm tm;
        gmtime_r(&now, &tm);
        int cur = tm.tm_year + 1900;
        year += cur - cur % 100;
        if (year > cur + 50)
            year -= 100;
        else if (year <= cur - 50)
            year += 100;
        return make_time(year, mon, day, h, m, s, out);
    }
    return -1;
}
