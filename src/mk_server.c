#include "mk_server.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/mk_conf.h"
#include "core/mk_core.h"
#include "core/mk_logfile.h"
#include "http/mk_http_parser.h"
#include "http/mk_mime.h"

#define MK_MAX_LISTEN 32
#define MK_MAX_INDEX 16
#define MK_MAX_VHOSTS 256

/* Types used when there is no monkey.mime (monkey -o DIR). */
static const char *const builtin_mime[][2] = {
    {"html", "text/html"}, {"htm", "text/html"}, {"css", "text/css"},
    {"js", "text/javascript"}, {"json", "application/json"}, {"txt", "text/plain"},
    {"xml", "application/xml"}, {"svg", "image/svg+xml"}, {"png", "image/png"},
    {"jpg", "image/jpeg"}, {"jpeg", "image/jpeg"}, {"gif", "image/gif"},
    {"webp", "image/webp"}, {"ico", "image/x-icon"}, {"pdf", "application/pdf"},
    {"wasm", "application/wasm"}, {"woff2", "font/woff2"}, {"mp4", "video/mp4"},
};

#define ERR(...)                                                                                   \
    do {                                                                                           \
        snprintf(err, errlen, __VA_ARGS__);                                                        \
        return -1;                                                                                 \
    } while (0)

/* Never cut: a path too long for the system fails where it is opened, by its name. */
static char *path_join(const char *dir, const char *p)
{
    if (p[0] == '/')
        return mk_xstrdup(p);
    size_t n = strlen(dir) + strlen(p) + 2;
    char *out = mk_xmalloc(n);
    snprintf(out, n, "%s/%s", dir, p);
    return out;
}

/* A key given twice in a section, or a section given twice in a file, is refused, naming
 * both lines: which one should win is the writer's to say.  multi: keys that may repeat. */
static int check_repeats(const struct mk_conf *c, const char *const *multi, char *err,
                         size_t errlen)
{
    for (const struct mk_conf_section *s = c->sections; s; s = s->next) {
        for (const struct mk_conf_section *t = c->sections; t != s; t = t->next)
            if (!strcasecmp(t->name, s->name))
                ERR("%s:%d: [%s] again (it was opened at line %d)", c->path, s->line, s->name,
                    t->line);
        for (const struct mk_conf_entry *e = s->entries; e; e = e->next) {
            bool may = false;
            for (const char *const *m = multi; *m && !may; m++)
                may = !strcasecmp(*m, e->key);
            for (const struct mk_conf_entry *f = s->entries; f != e && !may; f = f->next)
                if (!strcasecmp(f->key, e->key))
                    ERR("%s:%d: %s is already set at line %d", c->path, e->line, e->key,
                        f->line);
        }
    }
    return 0;
}

static int open_docroot(struct mk_vhost *vh, const char *file, int line, char *err, size_t errlen)
{
    vh->docroot_fd = open(vh->docroot, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (vh->docroot_fd < 0) {
        if (line > 0)
            ERR("%s:%d: DocumentRoot: cannot open '%s': %s", file, line, vh->docroot,
                strerror(errno));
        ERR("document root '%s': %s", vh->docroot, strerror(errno));
    }
    return 0;
}

static int split_words(const char *v, char **out, int max, int *n)
{
    char *copy = mk_xstrdup(v), *save = NULL;
    for (char *w = strtok_r(copy, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
        if (*n >= max) {
            free(copy);
            return -1;
        }
        out[(*n)++] = mk_xstrdup(w);
    }
    free(copy);
    return 0;
}

/* A ServerName is compared with the Host's name part, without its port or final dot,
 * case-insensitively: a name that could never match is refused rather than ignored.  The
 * final dot is dropped here too ("example.com." names example.com), and an IPv6 literal is
 * kept in its canonical form ("[0:0::1]" names [::1]), as the Host's is compared. */
static int check_server_name(char **namep, const char *path, int line, char *err, size_t errlen)
{
    char *name = *namep;
    size_t n = strlen(name);
    if (n > 1 && name[n - 1] == '.')
        name[--n] = '\0';
    if (strchr(name, '*'))
        ERR("%s:%d: ServerName '%s': wildcard names are not supported", path, line, name);
    const char *close = name[0] == '[' ? strchr(name, ']') : NULL;
    if (close ? close[1] != '\0' : strchr(name, ':') != NULL)
        ERR("%s:%d: ServerName '%s': a name has no port (it matches on every Listen port)",
            path, line, name);
    if (mk_http_host_check(mk_str(name, n)) < 0)
        ERR("%s:%d: ServerName '%s' is not a host name", path, line, name);
    if (name[0] == '[') {
        char canon[INET6_ADDRSTRLEN + 2];
        if (mk_vhost_ip6_canon(mk_str(name, n), canon, sizeof(canon)) < 0)
            ERR("%s:%d: ServerName '%s' is not a host name", path, line, name);
        free(name);
        *namep = mk_xstrdup(canon);
    }
    return 0;
}

/* A "." or ".." segment anywhere, the last one too ("errors/.." names a directory). */
static bool has_dot_segment(const char *p)
{
    for (const char *seg = p; seg; seg = strchr(seg, '/')) {
        seg += *seg == '/';
        size_t n = strcspn(seg, "/");
        if ((n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.'))
            return true;
    }
    return false;
}

static int load_site(struct mk_server *srv, const char *path, struct mk_vhost *vh, char *err,
                     size_t errlen)
{
    /* First: a site that fails to load is still freed, and fd 0 is not ours to close. */
    vh->docroot_fd = -1;
    struct mk_conf *c = mk_conf_load(path, err, errlen);
    int docroot_line = 0, host_line = 0;
    if (!c)
        return -1;
    vh->file = mk_xstrdup(path);
    static const char *const site_multi[] = {"ServerName", NULL};
    if (check_repeats(c, site_multi, err, errlen) < 0)
        goto fail;
    for (struct mk_conf_section *s = c->sections; s; s = s->next) {
        bool host = !strcasecmp(s->name, "HOST");
        bool pages = !strcasecmp(s->name, "ERROR_PAGES");
        bool logger = !strcasecmp(s->name, "LOGGER");
        if (host)
            host_line = s->line;
        if (!host && !pages && !logger) {
            snprintf(err, errlen, "%s:%d: unknown section [%s] (expected [HOST], [ERROR_PAGES] "
                     "or [LOGGER])", path, s->line, s->name);
            goto fail;
        }
        for (struct mk_conf_entry *e = s->entries; e; e = e->next) {
            if (host && !strcasecmp(e->key, "ServerName")) {
                int first = vh->nnames;
                if (split_words(e->value, vh->names, MK_VHOST_MAX_NAMES, &vh->nnames) < 0) {
                    snprintf(err, errlen, "%s:%d: ServerName: too many names", path, e->line);
                    goto fail;
                }
                for (int k = first; k < vh->nnames; k++) {
                    vh->name_line[k] = e->line;
                    if (check_server_name(&vh->names[k], path, e->line, err, errlen) < 0)
                        goto fail;
                }
            } else if (host && !strcasecmp(e->key, "DocumentRoot")) {
                free(vh->docroot);
                vh->docroot = path_join(srv->confdir, e->value);
                docroot_line = e->line;
            } else if (pages) {
                long st;
                char *end;
                st = strtol(e->key, &end, 10);
                if (*end || !isdigit((unsigned char)e->key[0]) || st < 400 || st > 599) {
                    snprintf(err, errlen, "%s:%d: error page status must be 400-599, got '%s'",
                             path, e->line, e->key);
                    goto fail;
                }
                if (vh->nerror_pages == MK_VHOST_MAX_ERROR_PAGES) {
                    snprintf(err, errlen, "%s:%d: too many error pages", path, e->line);
                    goto fail;
                }
                char fbuf[PATH_MAX];
                if ((size_t)snprintf(fbuf, sizeof(fbuf), "%s%s", e->value[0] == '/' ? "" : "/",
                                     e->value) >= sizeof(fbuf)) {
                    snprintf(err, errlen, "%s:%d: error page '%.40s...' is longer than %d bytes",
                             path, e->line, e->value, PATH_MAX - 1);
                    goto fail;
                }
                if (has_dot_segment(fbuf)) {
                    snprintf(err, errlen, "%s:%d: error page '%s' must be a plain path under "
                             "the document root", path, e->line, e->value);
                    goto fail;
                }
                vh->error_pages[vh->nerror_pages].status = (int)st;
                vh->error_pages[vh->nerror_pages].file = mk_xstrdup(fbuf);
                vh->nerror_pages++;
            } else if (logger && !strcasecmp(e->key, "AccessLog")) {
                free(vh->access_log);
                vh->access_log = path_join(srv->confdir, e->value);
                vh->access_log_line = e->line;
            } else if (logger && !strcasecmp(e->key, "ErrorLog")) {
                free(vh->error_log);
                vh->error_log = path_join(srv->confdir, e->value);
                vh->error_log_line = e->line;
            } else {
                snprintf(err, errlen, "%s:%d: unknown key '%s' in [%s]", path, e->line, e->key,
                         s->name);
                goto fail;
            }
        }
    }
    if (!vh->docroot) {
        snprintf(err, errlen, "%s: [HOST] needs a DocumentRoot", path);
        goto fail;
    }
    /* Only the first site answers a Host that no name matches: another one without a name
     * would never be chosen. */
    if (vh->id > 0 && vh->nnames == 0) {
        snprintf(err, errlen, "%s:%d: [HOST] has no ServerName, so no request would ever reach "
                 "it (only the first site answers unknown hosts)", path,
                 host_line);
        goto fail;
    }
    if (open_docroot(vh, path, docroot_line, err, errlen) < 0)
        goto fail;
    mk_conf_free(c);
    return 0;
fail:
    mk_conf_free(c);
    return -1;
}

static int cmp_names(const void *a, const void *b)
{
    const char *x = *(const char *const *)a, *y = *(const char *const *)b;
    /* "default" first: it answers unknown hosts. */
    if (!strcmp(x, "default"))
        return -1;
    if (!strcmp(y, "default"))
        return 1;
    return strcmp(x, y);
}

static int load_sites(struct mk_server *srv, char *err, size_t errlen)
{
    char dir[PATH_MAX];
    char *names[MK_MAX_VHOSTS];
    int n = 0;
    DIR *d;
    struct dirent *de;

    snprintf(dir, sizeof(dir), "%s/sites", srv->confdir);
    d = opendir(dir);
    if (!d)
        ERR("%s: cannot open: %s (a [HOST] file such as sites/default is needed)", dir,
            strerror(errno));
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.' || strchr(de->d_name, '~'))
            continue;
        if (n == MK_MAX_VHOSTS) {
            closedir(d);
            ERR("%s: too many site files", dir);
        }
        names[n++] = mk_xstrdup(de->d_name);
    }
    closedir(d);
    if (n == 0)
        ERR("%s: no site file (expected at least sites/default)", dir);
    qsort(names, (size_t)n, sizeof(names[0]), cmp_names);
    srv->http.vhosts = mk_xcalloc((size_t)n, sizeof(struct mk_vhost));
    int rc = 0;
    for (int i = 0; i < n; i++) {
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        if (rc == 0) {
            srv->http.vhosts[i].id = i;
            if (load_site(srv, path, &srv->http.vhosts[i], err, errlen) < 0)
                rc = -1;
            srv->http.nvhosts = i + 1; /* counted even when it failed, so it is freed */
        }
        free(names[i]);
    }
    /* One name, one site: the second would never be chosen. */
    const struct mk_vhost *v = srv->http.vhosts;
    for (int i = 0; rc == 0 && i < n; i++)
        for (int k = 0; rc == 0 && k < v[i].nnames; k++)
            for (int j = 0; rc == 0 && j <= i; j++)
                for (int m = 0; m < (j < i ? v[j].nnames : k); m++)
                    if (!strcasecmp(v[i].names[k], v[j].names[m])) {
                        snprintf(err, errlen, "%s:%d: ServerName '%s' is already a name of %s "
                                 "(line %d)", v[i].file, v[i].name_line[k], v[i].names[k],
                                 v[j].file, v[j].name_line[m]);
                        rc = -1;
                        break;
                    }
    return rc;
}

static void set_defaults(struct mk_server *srv)
{
    struct mk_sched_config *s = &srv->sched;
    struct mk_http_config *h = &srv->http;

    s->workers = 0;
    s->timeout[MK_TLIST_REQUEST] = 15;
    s->timeout[MK_TLIST_KEEPALIVE] = 5;
    s->timeout[MK_TLIST_LINGER] = 2;
    s->max_connections = 0;
    s->grace_seconds = 10;
    s->reuseport = true;
    s->listen = mk_xcalloc(MK_MAX_LISTEN, sizeof(struct mk_listen_addr));
    s->nlisten = 0;
    s->proto = &mk_http_proto;
    s->proto_config = h;

    h->keepalive = true;
    h->keepalive_timeout = 5;
    h->max_keepalive_request = 1000;
    h->max_request_size = 32 * 1024;
    h->indexfiles = mk_xcalloc(MK_MAX_INDEX, sizeof(char *));
    h->hide_version = false;
    h->default_mime = mk_xstrdup("text/plain");
    h->symlink = false;
    h->file_cache_entries = 1024;
    h->file_cache_small = 64 * 1024;
}

static int add_listen(struct mk_server *srv, const char *v, const char *file, int line, char *err,
                      size_t errlen)
{
    if (srv->sched.nlisten == MK_MAX_LISTEN)
        ERR("%s:%d: Listen: too many addresses (at most %d)", file, line, MK_MAX_LISTEN);
    /* With -p every address takes its port: "Listen 127.0.0.1" is then unambiguous. */
    int prc = mk_listen_parse(v, srv->port, &srv->sched.listen[srv->sched.nlisten]);
    if (prc == -2)
        ERR("%s:%d: Listen: '%s' has no port (expected PORT, ADDR:PORT or [ADDR6]:PORT, "
            "e.g. %s:%d, or an address with -p PORT)", file, line, v, v, MK_DEFAULT_PORT);
    if (prc < 0)
        ERR("%s:%d: Listen: invalid address '%s' (expected PORT, ADDR:PORT or [ADDR6]:PORT)",
            file, line, v);
    struct mk_listen_addr *a = &srv->sched.listen[srv->sched.nlisten];
    for (int i = 0; i < srv->sched.nlisten; i++)
        if (srv->sched.listen[i].len == a->len &&
            !memcmp(&srv->sched.listen[i].addr, &a->addr, a->len))
            ERR("%s:%d: Listen: %s is already listed", file, line, a->text);
    snprintf(a->where, sizeof(a->where), "%s:%d: Listen", file, line);
    srv->sched.nlisten++;
    return 0;
}

static int load_main(struct mk_server *srv, char *err, size_t errlen)
{
    char path[PATH_MAX];
    struct mk_conf *c;
    struct mk_http_config *h = &srv->http;
    struct mk_sched_config *s = &srv->sched;
    int rc = -1;

    if (srv->serverconf[0] == '/')
        snprintf(path, sizeof(path), "%s", srv->serverconf);
    else
        snprintf(path, sizeof(path), "%s/%s", srv->confdir, srv->serverconf);
    c = mk_conf_load(path, err, errlen);
    if (!c)
        return -1;
    static const char *const main_multi[] = {"Listen", NULL};
    if (check_repeats(c, main_multi, err, errlen) < 0)
        goto out;
    bool seen_server = false;
    for (struct mk_conf_section *sec = c->sections; sec; sec = sec->next) {
        if (strcasecmp(sec->name, "SERVER") != 0) {
            snprintf(err, errlen, "%s:%d: unknown section [%s] (expected [SERVER])", path,
                     sec->line, sec->name);
            goto out;
        }
        seen_server = true;
        for (struct mk_conf_entry *e = sec->entries; e; e = e->next) {
            const char *k = e->key;
            long v;
            bool b;
            if (!strcasecmp(k, "Listen")) {
                if (add_listen(srv, e->value, path, e->line, err, errlen) < 0)
                    goto out;
            } else if (!strcasecmp(k, "Workers")) {
                if (mk_conf_get_int(c, e, 0, 1024, &v, err, errlen) < 0)
                    goto out;
                s->workers = (int)v;
            } else if (!strcasecmp(k, "Timeout")) {
                if (mk_conf_get_int(c, e, 1, 86400, &v, err, errlen) < 0)
                    goto out;
                s->timeout[MK_TLIST_REQUEST] = (uint32_t)v;
            } else if (!strcasecmp(k, "KeepAlive")) {
                if (mk_conf_get_bool(c, e, &b, err, errlen) < 0)
                    goto out;
                h->keepalive = b;
            } else if (!strcasecmp(k, "KeepAliveTimeout")) {
                if (mk_conf_get_int(c, e, 1, 86400, &v, err, errlen) < 0)
                    goto out;
                h->keepalive_timeout = (uint32_t)v;
            } else if (!strcasecmp(k, "MaxKeepAliveRequest")) {
                if (mk_conf_get_int(c, e, 1, 100000000, &v, err, errlen) < 0)
                    goto out;
                h->max_keepalive_request = (uint32_t)v;
            } else if (!strcasecmp(k, "MaxRequestSize")) {
                if (mk_conf_get_int(c, e, 1, 1024 * 1024, &v, err, errlen) < 0)
                    goto out;
                h->max_request_size = (uint32_t)v * 1024;
            } else if (!strcasecmp(k, "MaxConnections")) {
                if (mk_conf_get_int(c, e, 0, 10000000, &v, err, errlen) < 0)
                    goto out;
                s->max_connections = (uint32_t)v;
            } else if (!strcasecmp(k, "Indexfile")) {
                h->nindex = 0;
                if (split_words(e->value, h->indexfiles, MK_MAX_INDEX, &h->nindex) < 0) {
                    snprintf(err, errlen, "%s:%d: Indexfile: too many names", path, e->line);
                    goto out;
                }
                for (int i = 0; i < h->nindex; i++)
                    if (strchr(h->indexfiles[i], '/')) {
                        snprintf(err, errlen, "%s:%d: Indexfile: '%s' must be a file name",
                                 path, e->line, h->indexfiles[i]);
                        goto out;
                    }
            } else if (!strcasecmp(k, "HideVersion")) {
                if (mk_conf_get_bool(c, e, &b, err, errlen) < 0)
                    goto out;
                h->hide_version = b;
            } else if (!strcasecmp(k, "DefaultMimeType")) {
                if (!mk_mime_type_valid(e->value)) {
                    snprintf(err, errlen, "%s:%d: DefaultMimeType: '%s' is not a media type%s",
                             path, e->line, e->value,
                             strlen(e->value) > MK_MIME_TYPE_MAX ? " of at most 255 bytes" : "");
                    goto out;
                }
                free(h->default_mime);
                h->default_mime = mk_xstrdup(e->value);
            } else if (!strcasecmp(k, "SymLink")) {
                if (mk_conf_get_bool(c, e, &b, err, errlen) < 0)
                    goto out;
                h->symlink = b;
            } else if (!strcasecmp(k, "ReusePort")) {
                if (mk_conf_get_bool(c, e, &b, err, errlen) < 0)
                    goto out;
                s->reuseport = b;
            } else if (!strcasecmp(k, "EventLoop")) {
                if (!strcasecmp(e->value, "epoll")) {
                    s->loop = MK_LOOP_EPOLL;
                } else if (!strcasecmp(e->value, "io_uring")) {
                    s->loop = MK_LOOP_URING;
                } else {
                    snprintf(err, errlen, "%s:%d: EventLoop: expected 'epoll' or 'io_uring', got '%s'",
                             path, e->line, e->value);
                    goto out;
                }
            } else if (!strcasecmp(k, "GracePeriod")) {
                if (mk_conf_get_int(c, e, 0, 3600, &v, err, errlen) < 0)
                    goto out;
                s->grace_seconds = (uint32_t)v;
            } else if (!strcasecmp(k, "PidFile")) {
                free(srv->pidfile);
                srv->pidfile = path_join(srv->confdir, e->value);
            } else if (!strcasecmp(k, "User")) {
                free(srv->user);
                srv->user = mk_xstrdup(e->value);
            } else {
                snprintf(err, errlen, "%s:%d: unknown key '%s' in [SERVER]", path, e->line, k);
                goto out;
            }
        }
    }
    if (!seen_server) {
        snprintf(err, errlen, "%s: missing [SERVER] section", path);
        goto out;
    }
    rc = 0;
out:
    mk_conf_free(c);
    return rc;
}

/* Opens a site's AccessLog or ErrorLog; a failure names the site file and line it came from. */
static struct mk_logfile *open_site_log(const struct mk_vhost *vh, const char *key,
                                        const char *path, int line, char *err, size_t errlen)
{
    char why[512];
    struct mk_logfile *f = mk_logfile_open(path, why, sizeof(why));
    if (!f)
        snprintf(err, errlen, "%s:%d: %s: %s", vh->file, line, key, why);
    return f;
}

int mk_server_load(struct mk_server *srv, char *err, size_t errlen)
{
    set_defaults(srv);

    if (srv->docroot_only) {
        struct mk_vhost *vh = mk_xcalloc(1, sizeof(*vh));
        vh->docroot = mk_xstrdup(srv->docroot_only);
        vh->file = mk_xstrdup("(command line)");
        srv->http.vhosts = vh;
        srv->http.nvhosts = 1;
        if (open_docroot(vh, NULL, 0, err, errlen) < 0)
            return -1;
        srv->http.indexfiles[0] = mk_xstrdup("index.html");
        srv->http.indexfiles[1] = mk_xstrdup("index.htm");
        srv->http.nindex = 2;
    } else {
        if (load_main(srv, err, errlen) < 0 || load_sites(srv, err, errlen) < 0)
            return -1;
        if (srv->http.nindex == 0) {
            srv->http.indexfiles[0] = mk_xstrdup("index.html");
            srv->http.nindex = 1;
        }
    }

    char mime_path[PATH_MAX];
    snprintf(mime_path, sizeof(mime_path), "%s/monkey.mime", srv->confdir ? srv->confdir : ".");
    if (!srv->docroot_only && access(mime_path, F_OK) == 0) {
        srv->http.mime = mk_mime_load(mime_path, err, errlen);
        if (!srv->http.mime)
            return -1;
    } else {
        srv->http.mime = mk_mime_new();
        for (size_t i = 0; i < MK_ARRAY_SIZE(builtin_mime); i++)
            mk_mime_add(srv->http.mime, builtin_mime[i][0], builtin_mime[i][1]);
    }

    for (int i = 0; i < srv->http.nvhosts; i++) {
        struct mk_vhost *vh = &srv->http.vhosts[i];
        if (vh->access_log &&
            !(vh->access = open_site_log(vh, "AccessLog", vh->access_log, vh->access_log_line,
                                         err, errlen)))
            return -1;
        if (vh->error_log &&
            !(vh->errlog = open_site_log(vh, "ErrorLog", vh->error_log, vh->error_log_line,
                                         err, errlen)))
            return -1;
    }

    bool listen_lines = srv->sched.nlisten > 0;
    if (!listen_lines) {
        char p[16];
        snprintf(p, sizeof(p), "%d", MK_DEFAULT_PORT);
        mk_listen_parse(p, 0, &srv->sched.listen[0]);
        snprintf(srv->sched.listen[0].where, sizeof(srv->sched.listen[0].where),
                 srv->port ? "-p" : "no Listen line: default port");
        srv->sched.nlisten = 1;
    }
    if (srv->port) {
        for (int i = 0; i < srv->sched.nlisten; i++) {
            struct mk_listen_addr *a = &srv->sched.listen[i];
            char text[80];
            if (a->addr.sa.sa_family == AF_INET6)
                a->addr.in6.sin6_port = htons((uint16_t)srv->port);
            else
                a->addr.in4.sin_port = htons((uint16_t)srv->port);
            snprintf(text, sizeof(text), "%s", a->text);
            char *colon = strrchr(text, ':');
            if (colon)
                snprintf(colon, sizeof(text) - (size_t)(colon - text), ":%d", srv->port);
            snprintf(a->text, sizeof(a->text), "%s", text);
            if (listen_lines) {
                size_t w = strlen(a->where);
                snprintf(a->where + w, sizeof(a->where) - w, ", port from -p");
            }
        }
        /* "Listen 80" and "Listen 81" both become the same address: keep it once. */
        int n = 0;
        for (int i = 0; i < srv->sched.nlisten; i++) {
            const struct mk_listen_addr *a = &srv->sched.listen[i];
            bool dup = false;
            for (int k = 0; k < n && !dup; k++)
                dup = srv->sched.listen[k].len == a->len &&
                      !memcmp(&srv->sched.listen[k].addr, &a->addr, a->len);
            if (!dup)
                srv->sched.listen[n++] = *a;
        }
        srv->sched.nlisten = n;
    }
    if (srv->workers >= 0)
        srv->sched.workers = srv->workers;
    if (srv->sched.workers == 0)
        srv->sched.workers = mk_sched_ncpus();
    srv->sched.timeout[MK_TLIST_KEEPALIVE] = srv->http.keepalive_timeout;
    return 0;
}

void mk_server_free(struct mk_server *srv)
{
    for (int i = 0; i < srv->http.nvhosts; i++) {
        struct mk_vhost *vh = &srv->http.vhosts[i];
        for (int k = 0; k < vh->nnames; k++)
            free(vh->names[k]);
        for (int k = 0; k < vh->nerror_pages; k++)
            free(vh->error_pages[k].file);
        if (vh->docroot_fd >= 0)
            close(vh->docroot_fd);
        free(vh->docroot);
        free(vh->file);
        free(vh->access_log);
        free(vh->error_log);
    }
    free(srv->http.vhosts);
    if (srv->http.indexfiles)
        for (int i = 0; i < MK_MAX_INDEX; i++)
            free(srv->http.indexfiles[i]);
    free(srv->http.indexfiles);
    free(srv->http.default_mime);
    mk_mime_free(srv->http.mime);
    free(srv->sched.listen);
    free(srv->pidfile);
    free(srv->user);
}
