/* The server's configuration: monkey.conf, monkey.mime and sites/, or the defaults used
 * by `monkey -o DOCROOT`.  Turns them into the scheduler's and the HTTP layer's settings. */
#ifndef MK_SERVER_H
#define MK_SERVER_H

#include <stdbool.h>
#include <stddef.h>

#include "event/mk_sched.h"
#include "http/mk_http.h"

struct mk_server {
    /* from the command line */
    char *confdir;      /* absolute */
    char *serverconf;   /* file name inside confdir */
    char *docroot_only; /* -o: serve this directory without configuration files */
    int port;           /* -p: 0 = as configured */
    int workers;        /* -w: -1 = as configured */
    bool daemon;

    /* from the files */
    struct mk_sched_config sched;
    struct mk_http_config http;
    char *pidfile;
    char *user;
};

/* Load everything; on error returns -1 with "file:line: reason" in err. */
int mk_server_load(struct mk_server *srv, char *err, size_t errlen);
void mk_server_free(struct mk_server *srv);

#endif
