/* HTTP/1.x request-head parser.
 *
 * Contract (picohttpparser's): the caller passes everything received so far; the parser
 * returns the length of the head (request line + headers + blank line) when it is complete,
 * MK_AGAIN when more bytes are needed, MK_ERROR when the head is invalid (req->status then
 * holds the status to answer: 400, 413, 414, 501, 505).  last_len is the length passed at
 * the previous call for the same request (0 the first time): the parser then only looks for
 * the end of the head in the new bytes and does not parse again until it is there.
 *
 * Zero copy: every field is a view into buf.  The parser reads only buf[0, len) and never
 * treats request bytes as C strings. */
#ifndef MK_HTTP_PARSER_H
#define MK_HTTP_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../core/mk_str.h"
#include "../trace/mk_trace_enums.h"

#define MK_HTTP_CL_NONE UINT64_MAX

struct mk_http_request {
    /* request line */
    mk_str_t method_str;
    mk_str_t target;    /* as sent */
    mk_str_t path;      /* origin-form path of target, still percent-encoded, no query */
    mk_str_t query;     /* after '?', without it; p == NULL when absent */
    uint8_t method;     /* enum mk_http_method */
    uint8_t protocol;   /* enum mk_http_protocol */
    bool absolute_form;  /* target was "http://host/path": host comes from it */
    bool asterisk_form;  /* OPTIONS * */
    bool authority_form; /* CONNECT host:port: path stays empty (p == NULL) */
    bool host_header;    /* a Host field was present */

    /* framing */
    uint64_t content_length; /* MK_HTTP_CL_NONE when absent */
    bool chunked;
    bool expect_continue;

    /* connection */
    bool conn_close;
    bool conn_keepalive;

    /* headers the server acts on; p == NULL when absent */
    mk_str_t host; /* from the Host header, or from an absolute-form target */
    mk_str_t range;
    mk_str_t if_modified_since;
    mk_str_t if_unmodified_since;
    mk_str_t if_none_match;
    mk_str_t if_match;
    mk_str_t if_range;
    mk_str_t user_agent;
    mk_str_t referer;

    uint32_t headers_off; /* offset of the first header line in the head */
    uint32_t head_len;    /* bytes of the head, including leading empty lines */
    uint16_t nheaders;
    uint16_t status;      /* error status when MK_ERROR is returned */
};

/* Parse a request head; see the contract above.  max_line is the longest request line
 * accepted (414 beyond it). */
int mk_http_parse_request(const char *buf, size_t len, size_t last_len, size_t max_line,
                          struct mk_http_request *req);

/* Iterate over the header fields of a head already accepted by the parser: *pos starts at
 * req->headers_off; returns false after the last one. */
bool mk_http_header_next(const char *buf, const struct mk_http_request *req, size_t *pos,
                         mk_str_t *name, mk_str_t *value);

/* Validate a Host header value (RFC 9110 7.2 + the guide's rules): returns 0 or -1. */
int mk_http_host_check(mk_str_t host);

/* A chunked request body (RFC 9112 7.1), checked and skipped: the server keeps no body.
 * Zero it before the body's first byte. */
struct mk_http_chunked {
    uint64_t size;  /* chunk-size being read, then the chunk's data bytes still to come */
    uint64_t total; /* body bytes so far: data as announced, plus every framing byte */
    uint8_t state;
    bool digits;    /* the chunk-size being read has a digit */
};

/* Consume up to n bytes of a chunked body.  *used is set to the bytes that belong to it.
 * Returns 1 when the body ended (after its final CRLF), 0 when all n bytes were consumed
 * and more are needed, -400 on any byte the grammar does not allow (CRLF is required
 * everywhere in the framing, trailer lines included; a bare LF is an error), or -413 as
 * soon as total would pass limit. */
int mk_http_chunked_consume(struct mk_http_chunked *ck, const char *p, size_t n, uint64_t limit,
                            size_t *used);

/* Method name for enum mk_http_method. */
const char *mk_http_method_name(int method);

#endif
