#include "mk_vhost.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

int mk_vhost_ip6_canon(mk_str_t lit, char *out, size_t outlen)
{
    char a6[INET6_ADDRSTRLEN], txt[INET6_ADDRSTRLEN];
    struct in6_addr in6;
    const char *close = lit.len && lit.p[0] == '[' ? memchr(lit.p, ']', lit.len) : NULL;
    size_t alen = close ? (size_t)(close - lit.p) - 1 : 0;

    if (alen == 0 || alen >= sizeof(a6))
        return -1;
    memcpy(a6, lit.p + 1, alen);
    a6[alen] = '\0';
    if (inet_pton(AF_INET6, a6, &in6) != 1 || !inet_ntop(AF_INET6, &in6, txt, sizeof(txt)))
        return -1;
    int n = snprintf(out, outlen, "[%s]", txt);
    return n > 0 && (size_t)n < outlen ? n : -1;
}

/* A Host that is an IP literal: "[0:0::1]:80" names the same address as ServerName [::1]
 * (stored in the canonical form), so both are compared that way.  Off the path of the
 * usual Host names. */
__attribute__((cold, noinline)) static const struct mk_vhost *
match_ip_literal(const struct mk_vhost *v, int n, mk_str_t host)
{
    char canon[INET6_ADDRSTRLEN + 2];
    int len = mk_vhost_ip6_canon(host, canon, sizeof(canon));

    if (len > 0)
        for (int i = 0; i < n; i++)
            for (int k = 0; k < v[i].nnames; k++)
                if (mk_str_ieq(mk_str(canon, (size_t)len),
                               mk_str(v[i].names[k], strlen(v[i].names[k]))))
                    return &v[i];
    return &v[0];
}

static mk_str_t host_name(mk_str_t host)
{
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
        if (host.len && host.p[0] == '[')
            return match_ip_literal(v, n, host);
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
