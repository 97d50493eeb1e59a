/* Virtual hosts: one [HOST] per file in sites/, chosen by the Host header. */
#ifndef MK_VHOST_H
#define MK_VHOST_H

#include <stdbool.h>
#include <stddef.h>

#include "../core/mk_str.h"

#define MK_VHOST_MAX_NAMES 32
#define MK_VHOST_MAX_ERROR_PAGES 16

struct mk_logfile;

struct mk_error_page {
    int status;
    char *file; /* path under the document root, e.g. "/404.html" */
};

struct mk_vhost {
    int id;
    char *file; /* the site file it came from */
    char *names[MK_VHOST_MAX_NAMES];
    int nnames;
    char *docroot;
    int docroot_fd; /* O_PATH directory: every file is opened beneath it */
    struct mk_error_page error_pages[MK_VHOST_MAX_ERROR_PAGES];
    int nerror_pages;
    char *access_log;  /* paths from [LOGGER] */
    char *error_log;
    int access_log_line; /* where they were given in file, for messages */
    int error_log_line;
    struct mk_logfile *access; /* opened at start-up; NULL: logging off */
    struct mk_logfile *errlog;
    int name_line[MK_VHOST_MAX_NAMES]; /* where each of names was given in file */
};

/* The vhost for a Host header value (port ignored, case-insensitive, an IPv6 literal in its
 * canonical form); the first (default) one when nothing matches or host is absent. */
const struct mk_vhost *mk_vhost_match(const struct mk_vhost *v, int n, mk_str_t host);

/* The canonical form (RFC 5952, as inet_ntop writes it) of the IPv6 literal that starts lit,
 * "[0:0::1]:80" -> "[::1]", written to out; its length, or -1 when lit does not start with
 * one. */
int mk_vhost_ip6_canon(mk_str_t lit, char *out, size_t outlen);

/* The custom error page of vh for status, or NULL. */
const char *mk_vhost_error_page(const struct mk_vhost *vh, int status);

#endif
