#include "mk_http_parser.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "../core/mk_core.h"

/* Table entries marking the digits and ASCII letters, shared by the byte classes below. */
#define MK_ALNUM_1                                                                                 \
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1,      \
    ['8'] = 1, ['9'] = 1, ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1,      \
    ['G'] = 1, ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1,      \
    ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1,      \
    ['W'] = 1, ['X'] = 1, ['Y'] = 1, ['Z'] = 1, ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1,      \
    ['e'] = 1, ['f'] = 1, ['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1,      \
    ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1,      \
    ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1, ['y'] = 1, ['z'] = 1

/* tchar (RFC 9110 5.6.2): the bytes allowed in methods and header names. */
static const uint8_t tchar[256] = {
    ['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1, ['*'] = 1, ['+'] = 1,
    ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1, ['`'] = 1, ['|'] = 1, ['~'] = 1,
    MK_ALNUM_1,
};

static const char *const method_names[] = {
#define MK__NAME(name, label) label,
    MK_METHODS(MK__NAME)
#undef MK__NAME
};

const char *mk_http_method_name(int method)
{
    if (method < 0 || method >= MK_METHOD_COUNT)
        return "UNKNOWN";
    return method_names[method];
}

static const uint8_t method_lens[] = {
#define MK__LEN(name, label) sizeof(label) - 1,
    MK_METHODS(MK__LEN)
#undef MK__LEN
};

static int method_lookup(const char *p, size_t len)
{
    /* Methods are case-sensitive (RFC 9110 9.1): "get" is an unknown method. */
    if (len == 3 && p[0] == 'G' && p[1] == 'E' && p[2] == 'T')
        return MK_METHOD_GET;
    for (int m = 1; m < MK_METHOD_COUNT; m++)
        if (method_lens[m] == len && memcmp(p, method_names[m], len) == 0)
            return m;
    return MK_METHOD_UNKNOWN;
}

/* Bytes allowed in a request target: VCHAR except '#' (a fragment is never sent) and the
 * characters RFC 3986 excludes.  Control bytes, SP, DEL and high-bit bytes are refused:
 * clients percent-encode them. */
static const uint8_t target_ok[256] = {
    ['!'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1, ['('] = 1, [')'] = 1, ['*'] = 1,
    ['+'] = 1, [','] = 1, ['-'] = 1, ['.'] = 1, ['/'] = 1, [':'] = 1, [';'] = 1, ['='] = 1,
    ['?'] = 1, ['@'] = 1, ['_'] = 1, ['~'] = 1, ['['] = 1, [']'] = 1, ['\\'] = 1, ['|'] = 1,
    ['^'] = 1, ['`'] = 1, ['{'] = 1, ['}'] = 1, ['"'] = 1, ['<'] = 1, ['>'] = 1,
    MK_ALNUM_1,
};

/* Field-value bytes: VCHAR, obs-text, SP, HTAB.  NUL, CR, LF and other controls are not. */
static inline bool value_ok(unsigned char c)
{
    return c >= 0x20 ? c != 0x7f : c == '\t';
}

/* True when [p, end) holds only field-value bytes.  Eight bytes at a time while no byte of
 * the word is below 0x20 or DEL (the usual case); a word that has one, HTAB included, is
 * judged byte by byte. */
static inline bool word_plain(const char *p)
{
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    uint64_t x, del;
    memcpy(&x, p, 8);
    del = x ^ (ones * 0x7f);
    return ((((x - ones * 0x20) & ~x) | ((del - ones) & ~del)) & highs) == 0;
}

static bool value_bytes_ok(const char *p, const char *end)
{
    if (end - p >= 8) {
        while (end - p >= 8 && word_plain(p))
            p += 8;
        /* A tail shorter than a word is judged with the word ending at end, which overlaps
         * bytes already found plain. */
        if (end - p < 8 && (p == end || word_plain(end - 8)))
            return true;
    }
    for (; p < end; p++)
        if (!value_ok((unsigned char)*p))
            return false;
    return true;
}

/* Find the end of the head: the empty line after the headers.  Leading empty lines (RFC
 * 9112 2.2) are skipped first.  Returns the offset just past the empty line, or 0. */
static size_t find_head_end(const char *buf, size_t len, size_t from)
{
    size_t i = from;
    while (i < len) {
        const char *lf = memchr(buf + i, '\n', len - i);
        if (!lf)
            return 0;
        size_t k = (size_t)(lf - buf) + 1;
        if (k < len && buf[k] == '\n')
            return k + 1;
        if (k + 1 < len && buf[k] == '\r' && buf[k + 1] == '\n')
            return k + 2;
        if (k + 1 >= len && k < len && buf[k] == '\r')
            return 0;
        i = k;
    }
    return 0;
}

static int fail(struct mk_http_request *req, int status)
{
    req->status = (uint16_t)status;
    return MK_ERROR;
}

/* An error found by a resumed call before the head is complete.  The call that returned
 * MK_AGAIN may have stopped inside the method, leaving it unknown, and the answer depends
 * on it (a HEAD gets no body): it is read again from the start of the input. */
static int fail_resumed(const char *buf, size_t len, struct mk_http_request *req, int status)
{
    const char *p = buf, *end = buf + len, *m;

    while (p < end && (*p == '\r' || *p == '\n'))
        p++;
    m = p;
    while (p < end && tchar[(unsigned char)*p])
        p++;
    if (p < end && p > m && *p == ' ') {
        req->method_str = mk_str(m, (size_t)(p - m));
        req->method = (uint8_t)method_lookup(m, (size_t)(p - m));
    }
    return fail(req, status);
}

/* The end of a line of a complete head: its CR LF or bare LF.  A CR anywhere else in the
 * line is left in it, and refused by the byte checks every part of a line goes through
 * (target, version, field name and field value all exclude CR). */
static inline const char *complete_line_end(const char *p, const char *end)
{
    const char *lf = memchr(p, '\n', (size_t)(end - p));
    if (!lf)
        return NULL;
    return lf > p && lf[-1] == '\r' ? lf - 1 : lf;
}

/* Return the end of the line starting at p (pointing at its CR or LF), or NULL; a bare CR
 * is an error reported through *bad.  Used while the head is incomplete. */
static const char *line_end(const char *p, const char *end, bool *bad)
{
    for (const char *q = p; q < end; q++) {
        if (*q == '\n')
            return q;
        if (*q == '\r') {
            if (q + 1 < end && q[1] == '\n')
                return q;
            if (q + 1 < end)
                *bad = true;
            return NULL;
        }
    }
    return NULL;
}

static const char *eol_skip(const char *p)
{
    return p + (*p == '\r' ? 2 : 1);
}

static int parse_version(const char *p, size_t n, struct mk_http_request *req)
{
    if (n == 8 && memcmp(p, "HTTP/1.", 7) == 0) {
        if (p[7] == '1') {
            req->protocol = MK_PROTO_HTTP11;
            return 0;
        }
        if (p[7] == '0') {
            req->protocol = MK_PROTO_HTTP10;
            return 0;
        }
    }
    /* Anything else, HTTP/2.0 or a token that is no version at all: Monkey answers 505. */
    req->protocol = MK_PROTO_UNKNOWN;
    return -1;
}

/* Split a request target whose bytes are already known to be target_ok. */
static int parse_target(struct mk_http_request *req)
{
    const char *p = req->target.p;
    size_t n = req->target.len;

    if (p[0] == '/') {
        req->path = req->target;
    } else if (req->method == MK_METHOD_CONNECT) {
        /* authority-form (RFC 9112 3.2.3): only CONNECT uses it, and it is refused later
         * with 405, like any method a static server does not implement for files.  It has
         * no path: the target is the authority, and one that is no host[:port] is a
         * malformed request line (400) rather than an unsupported method. */
        if (mk_http_host_check(req->target) < 0)
            return -1;
        req->authority_form = true;
        return 0;
    } else if (n == 1 && p[0] == '*') {
        if (req->method != MK_METHOD_OPTIONS)
            return -1;
        req->asterisk_form = true;
        req->path = MK_STR("*");
        return 0;
    } else {
        /* absolute-form: http://authority/path (RFC 9112 3.2.2) */
        size_t skip;
        if (n > 7 && mk_str_ieq_lower(p, 7, "http://", 7))
            skip = 7;
        else if (n > 8 && mk_str_ieq_lower(p, 8, "https://", 8))
            skip = 8;
        else
            return -1;
        const char *a = p + skip, *end = p + n, *auth_end = a;
        while (auth_end < end && *auth_end != '/' && *auth_end != '?')
            auth_end++;
        /* userinfo is not allowed in http(s) URIs sent to a server (RFC 9110 4.2.4) */
        if (auth_end == a || memchr(a, '@', (size_t)(auth_end - a)))
            return -1;
        /* req->host is set only once checked: a request refused later is logged under
         * the site it names (mk_http.c), which a malformed authority must not choose. */
        mk_str_t host = mk_str(a, (size_t)(auth_end - a));
        if (mk_http_host_check(host) < 0)
            return -1;
        req->host = host;
        req->absolute_form = true;
        if (auth_end < end && *auth_end == '/') {
            req->path = mk_str(auth_end, (size_t)(end - auth_end));
        } else {
            req->path = MK_STR("/");
            if (auth_end < end) {
                req->query = mk_str(auth_end + 1, (size_t)(end - auth_end - 1));
                return 0;
            }
        }
    }
    const char *q = memchr(req->path.p, '?', req->path.len);
    if (q) {
        req->query = mk_str(q + 1, (size_t)(req->path.p + req->path.len - q - 1));
        req->path.len = (size_t)(q - req->path.p);
    }
    return 0;
}


/* ---- chunked bodies (RFC 9112 7.1) ----------------------------------------------------------
 *
 *   chunked-body = *chunk last-chunk trailer-section CRLF
 *   chunk        = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
 *   chunk-ext    = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
 *   chunk-ext-val = token / quoted-string
 *
 * Every line of the framing must end in CRLF: RFC 9112 2.2 lets a recipient accept a bare
 * LF in the start-line and header section only, and two parsers that disagree on where a
 * body ends are how requests are smuggled.  One state per position in the grammar; a byte
 * that no rule allows is 400. */
enum {
    CK_SIZE,          /* chunk-size digits */
    CK_SIZE_BWS,      /* BWS after the size: only ';' may follow */
    CK_EXT_NAME_PRE,  /* BWS after ';' */
    CK_EXT_NAME,
    CK_EXT_NAME_POST, /* BWS after a name: '=' or ';' */
    CK_EXT_VAL_PRE,   /* BWS after '=' */
    CK_EXT_TOKEN,
    CK_EXT_QSTR,
    CK_EXT_QESC,      /* after a backslash in the quoted string */
    CK_EXT_QEND,      /* right after the closing quote */
    CK_EXT_VAL_POST,  /* BWS after a value: only ';' may follow */
    CK_SIZE_LF,
    CK_DATA,
    CK_DATA_CR,
    CK_DATA_LF,
    CK_TR_START,      /* start of a trailer line, or of the final CRLF */
    CK_TR_NAME,
    CK_TR_VALUE,
    CK_TR_LF,
    CK_END_LF,
};

static inline int hexval(unsigned char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    ch |= 0x20;
    return ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

/* qdtext (RFC 9110 5.6.4): HTAB, SP, VCHAR except '"' and '\', obs-text. */
static inline bool qdtext(unsigned char ch)
{
    return ch == '\t' || (ch >= 0x20 && ch != '"' && ch != '\\' && ch != 0x7f);
}

int mk_http_chunked_consume(struct mk_http_chunked *ck, const char *p, size_t n, uint64_t limit,
                            size_t *used)
{
    size_t i = 0;

    while (i < n) {
        unsigned char ch = (unsigned char)p[i];
        bool ws = ch == ' ' || ch == '\t';

        if (ck->state == CK_DATA) {
            uint64_t take = ck->size < n - i ? ck->size : n - i;
            i += (size_t)take;
            ck->size -= take;
            if (ck->size == 0)
                ck->state = CK_DATA_CR;
            continue;
        }
        i++;
        if (++ck->total > limit)
            goto too_large;
        switch (ck->state) {
        case CK_SIZE: {
            int d = hexval(ch);
            if (d >= 0) {
                if (ck->size > UINT64_MAX >> 4)
                    goto bad; /* does not fit in 64 bits */
                ck->size = ck->size << 4 | (uint64_t)d;
                ck->digits = true;
                break;
            }
            if (!ck->digits)
                goto bad;
            if (ch == ';')
                ck->state = CK_EXT_NAME_PRE;
            else if (ws)
                ck->state = CK_SIZE_BWS;
            else if (ch == '\r')
                ck->state = CK_SIZE_LF;
            else
                goto bad;
            break;
        }
        case CK_SIZE_BWS:
        case CK_EXT_VAL_POST:
            if (ch == ';')
                ck->state = CK_EXT_NAME_PRE;
            else if (!ws)
                goto bad;
            break;
        case CK_EXT_NAME_PRE:
            if (tchar[ch])
                ck->state = CK_EXT_NAME;
            else if (!ws)
                goto bad;
            break;
        case CK_EXT_NAME:
        case CK_EXT_TOKEN:
        case CK_EXT_QEND:
            if (tchar[ch] && ck->state != CK_EXT_QEND)
                break;
            if (ch == ';')
                ck->state = CK_EXT_NAME_PRE;
            else if (ch == '\r')
                ck->state = CK_SIZE_LF;
            else if (ws)
                ck->state = ck->state == CK_EXT_NAME ? CK_EXT_NAME_POST : CK_EXT_VAL_POST;
            else if (ch == '=' && ck->state == CK_EXT_NAME)
                ck->state = CK_EXT_VAL_PRE;
            else
                goto bad;
            break;
        case CK_EXT_NAME_POST:
            if (ch == '=')
                ck->state = CK_EXT_VAL_PRE;
            else if (ch == ';')
                ck->state = CK_EXT_NAME_PRE;
            else if (!ws)
                goto bad;
            break;
        case CK_EXT_VAL_PRE:
            if (ch == '"')
                ck->state = CK_EXT_QSTR;
            else if (tchar[ch])
                ck->state = CK_EXT_TOKEN;
            else if (!ws)
                goto bad;
            break;
        case CK_EXT_QSTR:
            if (ch == '"')
                ck->state = CK_EXT_QEND;
            else if (ch == '\\')
                ck->state = CK_EXT_QESC;
            else if (!qdtext(ch))
                goto bad;
            break;
        case CK_EXT_QESC:
            if (ch != '\t' && (ch < 0x20 || ch == 0x7f))
                goto bad;
            ck->state = CK_EXT_QSTR;
            break;
        case CK_SIZE_LF:
            if (ch != '\n')
                goto bad;
            /* The data is counted as announced, so a body too large is refused before it
             * is sent. */
            if (ck->size > limit - ck->total) /* total <= limit here; no wrap-around */
                goto too_large;
            ck->total += ck->size;
            ck->state = ck->size ? CK_DATA : CK_TR_START;
            ck->digits = false;
            break;
        case CK_DATA_CR:
            if (ch != '\r')
                goto bad; /* chunk-data not followed by CRLF */
            ck->state = CK_DATA_LF;
            break;
        case CK_DATA_LF:
            if (ch != '\n')
                goto bad;
            ck->state = CK_SIZE;
            break;
        case CK_TR_START:
            if (ch == '\r')
                ck->state = CK_END_LF;
            else if (tchar[ch])
                ck->state = CK_TR_NAME;
            else
                goto bad;
            break;
        case CK_TR_NAME:
            if (ch == ':')
                ck->state = CK_TR_VALUE;
            else if (!tchar[ch])
                goto bad;
            break;
        case CK_TR_VALUE:
            if (ch == '\r')
                ck->state = CK_TR_LF;
            else if (!value_ok(ch))
                goto bad;
            break;
        case CK_TR_LF:
            if (ch != '\n')
                goto bad;
            ck->state = CK_TR_START;
            break;
        case CK_END_LF:
            if (ch != '\n')
                goto bad;
            *used = i;
            return 1;
        default:
            goto bad;
        }
    }
    *used = i;
    return 0;
bad:
    *used = i;
    return -400;
too_large:
    *used = i;
    return -413;
}

/* reg-name bytes of a host (RFC 3986 3.2.2): unreserved, pct-encoded, sub-delims; 2 marks
 * the dot, 3 the '%' that must start a pct-encoded byte. */
static const uint8_t reg_name[256] = {
    ['-'] = 1, ['.'] = 2, ['_'] = 1, ['~'] = 1, ['%'] = 3, ['!'] = 1, ['$'] = 1, ['&'] = 1,
    ['\''] = 1, ['('] = 1, [')'] = 1, ['*'] = 1, ['+'] = 1, [','] = 1, [';'] = 1, ['='] = 1,
    MK_ALNUM_1,
};

int mk_http_host_check(mk_str_t host)
{
    const char *p = host.p, *end = host.p + host.len;
    const char *port = NULL;

    if (host.len == 0)
        return -1;
    if (p[0] == '[') {
        /* IP-literal: an IPv6 address (IPvFuture and zone ids name nothing we serve) */
        const char *close = memchr(p, ']', host.len);
        char a6[INET6_ADDRSTRLEN];
        struct in6_addr in6;
        size_t alen = close ? (size_t)(close - p - 1) : 0;
        if (alen == 0 || alen >= sizeof(a6))
            return -1;
        memcpy(a6, p + 1, alen);
        a6[alen] = '\0';
        if (inet_pton(AF_INET6, a6, &in6) != 1)
            return -1;
        if (close + 1 < end) {
            if (close[1] != ':')
                return -1;
            port = close + 2;
        }
    } else {
        const char *q = p;
        uint8_t k;
        while (q < end && (k = reg_name[(unsigned char)*q]) != 0) {
            /* ".." is no host name, and could make a vhost lookup leave a directory. */
            if (k == 2 && q + 1 < end && q[1] == '.')
                return -1;
            if (k == 3) { /* pct-encoded = "%" HEXDIG HEXDIG */
                if (end - q < 3 || hexval((unsigned char)q[1]) < 0 ||
                    hexval((unsigned char)q[2]) < 0)
                    return -1;
                q += 2;
            }
            q++;
        }
        if (q < end) {
            if (*q != ':')
                return -1;
            port = q + 1;
        }
        end = q;
        if (end == p)
            return -1;
    }
    if (port) {
        const char *pend = host.p + host.len;
        size_t n = (size_t)(pend - port);
        uint64_t v;
        if (n == 0)
            return 0; /* "host:" has an empty port, which RFC 3986 allows */
        if (n > 5)
            return -1;
        v = 0;
        for (size_t i = 0; i < n; i++) {
            if (port[i] < '0' || port[i] > '9')
                return -1;
            v = v * 10 + (uint64_t)(port[i] - '0');
        }
        if (v > 65535)
            return -1;
    }
    return 0;
}

static int parse_transfer_encoding(mk_str_t v, struct mk_http_request *req)
{
    mk_str_t tok;
    bool seen_chunked = req->chunked, unknown = false, any = false;

    while (mk_str_next_token(&v, &tok)) {
        any = true;
        if (seen_chunked)
            return fail(req, 400); /* chunked must be the final coding, applied once */
        if (MK_STR_IEQ(tok, "chunked"))
            seen_chunked = true;
        else if (!MK_STR_IEQ(tok, "gzip") && !MK_STR_IEQ(tok, "x-gzip") &&
                 !MK_STR_IEQ(tok, "deflate") && !MK_STR_IEQ(tok, "compress") &&
                 !MK_STR_IEQ(tok, "x-compress"))
            unknown = true;
    }
    if (!any)
        return fail(req, 400);
    req->chunked = seen_chunked;
    if (unknown)
        return fail(req, 501);
    return 0;
}

/* Act on one header field.  name and value are already validated; value is trimmed. */
/* The precondition fields and Range, given twice, are refused (400) rather than read one
 * way or the other: If-None-Match: A then If-None-Match: B answered 200 or 304 by their
 * order (the last one won), where a cache in front may have combined them (RFC 9110 5.3),
 * and the other four are not lists at all.  nginx refuses them too. */
static int once(struct mk_http_request *req, mk_str_t *slot, mk_str_t value)
{
    if (slot->p)
        return fail(req, 400);
    *slot = value;
    return 0;
}

static int on_header(struct mk_http_request *req, mk_str_t name, mk_str_t value, bool *te_seen)
{
    switch (name.len) {
    case 4:
        if (MK_STR_IEQ(name, "host")) {
            /* Validated even with an absolute-form target, whose authority then wins
             * (RFC 9112 3.2.2): a second or malformed Host is refused either way. */
            if (req->host_header)
                return fail(req, 400);
            req->host_header = true;
            if (mk_http_host_check(value) < 0)
                return fail(req, 400);
            if (!req->absolute_form)
                req->host = value;
        }
        return 0;
    case 5:
        if (MK_STR_IEQ(name, "range"))
            return once(req, &req->range, value);
        return 0;
    case 6:
        if (MK_STR_IEQ(name, "expect")) {
            if (MK_STR_IEQ(value, "100-continue"))
                req->expect_continue = true;
        }
        return 0;
    case 7:
        /* The first Referer and User-Agent are the ones logged, as nginx logs them. */
        if (MK_STR_IEQ(name, "referer") && !req->referer.p)
            req->referer = value;
        return 0;
    case 8:
        if (MK_STR_IEQ(name, "if-match"))
            return once(req, &req->if_match, value);
        if (MK_STR_IEQ(name, "if-range"))
            return once(req, &req->if_range, value);
        return 0;
    case 10:
        if (MK_STR_IEQ(name, "connection")) {
            mk_str_t tok, list = value;
            while (mk_str_next_token(&list, &tok)) {
                if (MK_STR_IEQ(tok, "close"))
                    req->conn_close = true;
                else if (MK_STR_IEQ(tok, "keep-alive"))
                    req->conn_keepalive = true;
            }
        } else if (MK_STR_IEQ(name, "user-agent") && !req->user_agent.p) {
            req->user_agent = value;
        }
        return 0;
    case 13:
        if (MK_STR_IEQ(name, "if-none-match"))
            return once(req, &req->if_none_match, value);
        return 0;
    case 14:
        if (MK_STR_IEQ(name, "content-length")) {
            uint64_t v;
            /* Only digits: no sign, no hex, no list ("1, 2"), no overflow. */
            if (mk_str_to_u64(value, (uint64_t)INT64_MAX, &v) < 0)
                return fail(req, 400);
            if (req->content_length != MK_HTTP_CL_NONE && req->content_length != v)
                return fail(req, 400);
            req->content_length = v;
        }
        return 0;
    case 17:
        if (MK_STR_IEQ(name, "if-modified-since"))
            return once(req, &req->if_modified_since, value);
        else if (MK_STR_IEQ(name, "transfer-encoding")) {
            *te_seen = true;
            return parse_transfer_encoding(value, req);
        }
        return 0;
    case 19:
        if (MK_STR_IEQ(name, "if-unmodified-since"))
            return once(req, &req->if_unmodified_since, value);
        return 0;
    default:
        return 0;
    }
}

/* Parse one header line [p, eol): returns 0 and the name/value views, or -1. */
static int split_header(const char *p, const char *eol, mk_str_t *name, mk_str_t *value)
{
    const char *q = p;
    while (q < eol && tchar[(unsigned char)*q])
        q++;
    /* An empty name, a space before the colon (RFC 9112 5.1 MUST reject) or a byte that is
     * not a token: 400. */
    if (q == p || q == eol || *q != ':')
        return -1;
    *name = mk_str(p, (size_t)(q - p));
    q++;
    if (!value_bytes_ok(q, eol))
        return -1;
    *value = mk_str_trim(mk_str(q, (size_t)(eol - q)));
    if (value->len == 0)
        value->p = q; /* present but empty: keep a non-NULL view */
    return 0;
}

int mk_http_parse_request(const char *buf, size_t len, size_t last_len, size_t max_line,
                          struct mk_http_request *req)
{
    const char *p = buf, *end = buf + len, *eol, *sp1, *sp2;
    bool bad = false, te_seen = false;
    size_t head_len;

    req->status = 0;

    /* Fast path for a resumed call: until the empty line has arrived, only the new bytes are
     * looked at (a slow client sending one byte at a time must not cost O(n^2)). */
    if (last_len && last_len < len) {
        size_t from = last_len > 3 ? last_len - 3 : 0;
        if (!find_head_end(buf, len, from)) {
            /* from last_len - 1: a CR that ended the previous call is judged by what follows */
            for (size_t i = last_len - 1; i < len; i++) {
                unsigned char c = (unsigned char)buf[i];
                if (c == 0 || (c == '\r' && i + 1 < len && buf[i + 1] != '\n'))
                    return fail_resumed(buf, len, req, 400);
            }
            size_t start = 0;
            while (start < len && (buf[start] == '\r' || buf[start] == '\n'))
                start++;
            size_t line = len - start;
            if (line && buf[len - 1] == '\r')
                line--;
            if (line > max_line && !memchr(buf + start, '\n', len - start))
                return fail_resumed(buf, len, req, 414);
            return MK_AGAIN;
        }
    }

    memset(req, 0, sizeof(*req));
    req->content_length = MK_HTTP_CL_NONE;

    /* Leading empty lines are ignored (RFC 9112 2.2). */
    while (p < end && (*p == '\n' || *p == '\r')) {
        if (*p == '\r' && (p + 1 >= end || p[1] != '\n')) {
            if (p + 1 >= end)
                return MK_AGAIN;
            return fail(req, 400);
        }
        p = eol_skip(p);
    }
    if (p == end)
        return MK_AGAIN;

    /* method: a token, then one SP.  Checked as bytes arrive, so that garbage (a TLS
     * ClientHello, a binary protocol) is refused at once instead of waiting for a line end. */
    const char *m = p;
    while (p < end && tchar[(unsigned char)*p])
        p++;
    if (p == end)
        return (size_t)(p - m) > 32 ? fail(req, 501) : MK_AGAIN;
    if (p == m || *p != ' ')
        return fail(req, 400);
    req->method_str = mk_str(m, (size_t)(p - m));
    req->method = (uint8_t)method_lookup(m, (size_t)(p - m));
    sp1 = p;

    /* Usually the whole head is there at once: then every line end is found with memchr. */
    head_len = find_head_end(buf, len, (size_t)(sp1 - buf));
    if (head_len) {
        eol = complete_line_end(sp1, buf + head_len);
    } else {
        eol = line_end(sp1, end, &bad);
        if (bad)
            return fail(req, 400);
    }
    if (!eol) {
        /* Refuse a NUL or control byte in the line now rather than after a timeout. */
        for (const char *q = sp1 + 1; q < end; q++)
            if (((unsigned char)*q < 0x20 && *q != '\r') || *q == 0x7f)
                return fail(req, 400);
        if ((size_t)(end - m) - (end[-1] == '\r') > max_line)
            return fail(req, 414); /* (a final CR may be the start of the line end) */
        return MK_AGAIN;
    }
    /* The limit is on the request line itself: leading empty lines do not count.  A line
     * cut at LF alone may hold a bare CR: it ends the line, which is malformed (400), as
     * the incremental path finds. */
    if ((size_t)(eol - m) > max_line)
        return fail(req, memchr(m, '\r', (size_t)(eol - m)) ? 400 : 414);

    /* target SP version: exactly three parts separated by single spaces.  The target ends
     * at its first byte that is not allowed in one, which must be that SP: a missing
     * version ("GET /", HTTP/0.9 is not served), an empty target or a bad byte is 400. */
    sp2 = sp1 + 1;
    while (sp2 < eol && target_ok[(unsigned char)*sp2])
        sp2++;
    if (sp2 == eol || *sp2 != ' ' || sp2 == sp1 + 1)
        return fail(req, 400);
    req->target = mk_str(sp1 + 1, (size_t)(sp2 - sp1 - 1));
    /* A well-formed version has no bad byte; anything else is looked at byte by byte (a
     * second SP included), so that garbage gets 400 and only a well-formed but unsupported
     * version 505. */
    bool version_ok = parse_version(sp2 + 1, (size_t)(eol - sp2 - 1), req) == 0;
    if (!version_ok) {
        if (sp2 + 1 == eol)
            return fail(req, 400);
        for (const char *q = sp2 + 1; q < eol; q++)
            if ((unsigned char)*q <= 0x20 || (unsigned char)*q >= 0x7f)
                return fail(req, 400);
    }
    if (parse_target(req) < 0)
        return fail(req, 400);
    if (!version_ok)
        return fail(req, 505);
    if (req->method == MK_METHOD_UNKNOWN)
        return fail(req, 501);

    /* The head must be complete before the header fields are interpreted. */
    p = eol_skip(eol);
    req->headers_off = (uint32_t)(p - buf);
    if (!head_len) {
        /* Validate what is there, so that a bad byte is refused without waiting. */
        const char *q = p;
        while (q < end) {
            const char *e = line_end(q, end, &bad);
            if (bad)
                return fail(req, 400);
            if (!e)
                break;
            q = eol_skip(e);
        }
        return MK_AGAIN;
    }
    if (p < end && (*p == ' ' || *p == '\t'))
        return fail(req, 400); /* whitespace before the first header (RFC 9112 2.2) */

    while (p < buf + head_len) {
        mk_str_t name, value;
        eol = complete_line_end(p, buf + head_len);
        if (!eol)
            return fail(req, 400);
        if (eol == p) {
            p = eol_skip(eol);
            break;
        }
        if (*p == ' ' || *p == '\t')
            return fail(req, 400); /* obs-fold (RFC 9112 5.2) */
        if (split_header(p, eol, &name, &value) < 0)
            return fail(req, 400);
        req->nheaders++;
        if (on_header(req, name, value, &te_seen) < 0)
            return MK_ERROR;
        p = eol_skip(eol);
    }
    req->head_len = (uint32_t)(p - buf);

    /* Framing rules (RFC 9112 6.1, 6.3): refuse anything two parsers could read apart. */
    if (te_seen) {
        if (req->protocol == MK_PROTO_HTTP10)
            return fail(req, 400);
        if (req->content_length != MK_HTTP_CL_NONE)
            return fail(req, 400);
        if (!req->chunked)
            return fail(req, 400);
    }
    if (req->protocol == MK_PROTO_HTTP11 && !req->host_header)
        return fail(req, 400);
    return (int)req->head_len;
}

bool mk_http_header_next(const char *buf, const struct mk_http_request *req, size_t *pos,
                         mk_str_t *name, mk_str_t *value)
{
    const char *p = buf + *pos, *end = buf + req->head_len;
    bool bad = false;

    if (p >= end)
        return false;
    const char *eol = line_end(p, end, &bad);
    if (!eol || eol == p)
        return false;
    if (split_header(p, eol, name, value) < 0)
        return false;
    *pos = (size_t)(eol_skip(eol) - buf);
    return true;
}
