/* monkey-trace: command line. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "mt.h"

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: monkey-trace COMMAND [OPTION]... TRACE...\n"
            "\n"
            "Analyses of traces recorded from Monkey's LTTng-UST provider `monkey`. TRACE is a\n"
            "directory: an lttng session's --output, a relay daemon's output (several hosts\n"
            "and sessions), or any directory below them; several are merged by time.\n"
            "\n"
            "Commands:\n"
            "  summary TRACE...           requests, latency percentiles, connections, errors,\n"
            "                             load balance (--json: the same as JSON)\n"
            "  conn TRACE... --conn-id N  every event of one connection, seed events included\n"
            "  conn TRACE... --fd N       ... of every connection that used file descriptor N\n"
            "  check TRACE...             verify the server's invariants; exit 1 on a violation\n"
            "  report TRACE... -o FILE    one self-contained XHTML report with SVG charts\n"
            "  top URL                    live view of an LTTng live session, e.g.\n"
            "                             net://127.0.0.1/host/HOSTNAME/SESSION\n"
            "\n"
            "Options:\n"
            "  --pid PID        only the events of this process (vpid context)\n"
            "  --host NAME      only the events traced on this host\n"
            "  --json           summary: the same figures as JSON\n"
            "  --top N          summary: rows in the slowest-URI and connection lists [10]\n"
            "  -o, --output F   report: the file to write (- for stdout)\n"
            "  --no-stats       check: skip the worker_stats counter checks\n"
            "  --interval S     top: seconds between refreshes [1]\n"
            "  --duration S     top: stop after S seconds even if the session goes on\n"
            "  --wait           top: wait for the session to appear instead of ending\n"
            "  -h, --help       this help\n"
            "\n"
            "Exit status: 0 ok, 1 check found a violation, 2 usage or read error.\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'},
        {"top", required_argument, NULL, 't'},
        {"pid", required_argument, NULL, 'p'},
        {"host", required_argument, NULL, 'H'},
        {"conn-id", required_argument, NULL, 'c'},
        {"fd", required_argument, NULL, 'f'},
        {"output", required_argument, NULL, 'o'},
        {"no-stats", no_argument, NULL, 'n'},
        {"interval", required_argument, NULL, 'i'},
        {"duration", required_argument, NULL, 'd'},
        {"wait", no_argument, NULL, 'w'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct mt_common c;
    int64_t conn_id = -1, fd = -1;
    bool no_stats = false;
    double interval = 1.0;
    int64_t duration = -1;
    int opt;

    memset(&c, 0, sizeof(c));
    c.ro.pid = -1;
    c.top_n = 10;

    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *cmd = argv[1];
    argv[1] = argv[0];
    argv++;
    argc--;

    while ((opt = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
        char *end = NULL;
        switch (opt) {
        case 'j':
            c.json = true;
            break;
        case 't': {
            long long n = strtoll(optarg, &end, 10);
            c.top_n = n < 1 ? 1 : n > 1000000 ? 1000000 : (int)n;
            break;
        }
        case 'p':
            c.ro.pid = strtoll(optarg, &end, 10);
            break;
        case 'H':
            c.ro.host = optarg;
            break;
        case 'c':
            conn_id = strtoll(optarg, &end, 10);
            break;
        case 'f':
            fd = strtoll(optarg, &end, 10);
            break;
        case 'o':
            c.out = optarg;
            break;
        case 'n':
            no_stats = true;
            break;
        case 'i':
            interval = strtod(optarg, &end);
            break;
        case 'd':
            duration = strtoll(optarg, &end, 10);
            break;
        case 'w':
            c.ro.live_wait = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
        if (end && (*end || end == optarg)) {
            fprintf(stderr, "monkey-trace: bad number '%s'\n", optarg);
            return 2;
        }
    }
    c.ro.inputs = argv + optind;
    c.ro.ninputs = argc - optind;
    if (c.ro.ninputs < 1) {
        fprintf(stderr, "monkey-trace %s: no trace given\n", cmd);
        usage(stderr);
        return 2;
    }

    if (!strcmp(cmd, "summary"))
        return mt_cmd_summary(&c);
    if (!strcmp(cmd, "report")) {
        if (!c.out) {
            fprintf(stderr, "monkey-trace report: -o FILE is required\n");
            return 2;
        }
        return mt_cmd_report(&c);
    }
    if (!strcmp(cmd, "conn")) {
        if ((conn_id < 0) == (fd < 0)) {
            fprintf(stderr, "monkey-trace conn: give one of --conn-id N or --fd N\n");
            return 2;
        }
        return mt_cmd_conn(&c, conn_id, fd);
    }
    if (!strcmp(cmd, "check"))
        return mt_cmd_check(&c, no_stats);
    if (!strcmp(cmd, "top")) {
        if (c.ro.ninputs != 1) {
            fprintf(stderr, "monkey-trace top: give one live URL\n");
            return 2;
        }
        c.ro.live = true;
        return mt_cmd_top(&c, interval > 0.05 ? interval : 0.05, duration);
    }
    fprintf(stderr, "monkey-trace: unknown command '%s'\n", cmd);
    usage(stderr);
    return 2;
}
