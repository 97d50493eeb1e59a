#include "mk_vhost.h"

#include <string.h>

static mk_str_t host_name(mk_str_t host)
{
    if (host.len && host.p[0] == '[') {
        const char *close = memchr(host.p, ']', host.len);
        if (close)
            host.len = (size_t)(close - host.p) + 1;
        return host;
    }
    const char *colon = memchr(host.p, ':', host.len);
    if (colon)
        host.len = (size_t)(colon - host.p);
    /* "example.com." names the same host as "example.com" */
    if (host.len > 1 && host.p[host.len - 1] == '.')
        host.len--;
    return host;
}

const struct mk_vhost *mk_vhost_match(const struct mk_vhost *v, int n, mk_str_t host)
{
    if (n > 1 && host.p) {
        mk_str_t name = host_name(host);
        for (int i = 0; i < n; i++)
            for (int k = 0; k < v[i].nnames; k++)
                if (mk_str_ieq(name, mk_str(v[i].names[k], strlen(v[i].names[k]))))
                    return &v[i];
    }
    return &v[0];
}

const char *mk_vhost_error_page(const struct mk_vhost *vh, int status)
{
    for (int i = 0; i < vh->nerror_pages; i++)
        if (vh->error_pages[i].status == status)
            return vh->error_pages[i].file;
    return NULL;
}
