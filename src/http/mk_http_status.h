/* Status codes and the reason phrases Monkey sends (see docs: monkey-compat). */
#ifndef MK_HTTP_STATUS_H
#define MK_HTTP_STATUS_H

const char *mk_http_reason(int status);

#endif
