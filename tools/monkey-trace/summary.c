/* `monkey-trace summary`: the whole trace in one screen, or as JSON. */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "stats.h"

static const char *const class_names[6] = {"1xx", "2xx", "3xx", "4xx", "5xx", "other"};
static const double pcts[5] = {50, 90, 99, 99.9, 100};
static const char *const pct_names[5] = {"p50", "p90", "p99", "p99.9", "max"};

static const char *fmt_time(int64_t ns, char *buf, size_t len)
{
    time_t t = (time_t)(ns / 1000000000LL);
    struct tm tm;
    gmtime_r(&t, &tm);
    size_t n = strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm);
    snprintf(buf + n, len - n, ".%03d UTC", (int)((ns / 1000000) % 1000));
    return buf;
}

static void pct_row(FILE *f, const char *label, const struct mt_hist *h)
{
    char b[32];
    fprintf(f, "  %-22s %10" PRIu64, label, h->n);
    for (int i = 0; i < 5; i++)
        fprintf(f, " %9s", h->n ? mt_fmt_ns(mt_hist_pct(h, pcts[i]), b, sizeof(b)) : "-");
    fputc('\n', f);
}

/* How much of timeline bucket i the trace covers, in seconds (the last one is partial). */
static double bucket_s(const struct mt_stats *s, int i, int n)
{
    int64_t from = s->tl.t0 + (int64_t)i * s->tl.width;
    int64_t to = from + (int64_t)n * s->tl.width;
    if (to > s->last_ts)
        to = s->last_ts;
    return to > from ? (double)(to - from) / 1e9 : 0;
}

/* peak requests per second, from the timeline's request row: the busiest second (or
 * bucket, when buckets are wider) that the trace covers whole.  -1 when it covers none (a
 * trace shorter than that): the rate of a part of a second, scaled up, is no peak. */
static double peak_rate(const struct mt_stats *s)
{
    int g = s->tl.width >= 1000000000LL ? 1 : (int)(1000000000LL / s->tl.width);
    double best = -1;
    for (int i = 0; i + g <= s->tl.nb; i += g) {
        double cov = bucket_s(s, i, g);
        uint64_t sum = 0;
        for (int j = i; j < i + g; j++)
            sum += s->tl.rows[TL_REQ][j];
        if (cov * 1e9 < (double)s->tl.width * g)
            continue;
        if ((double)sum / cov > best)
            best = (double)sum / cov;
    }
    return best;
}

void mt_discard_warning(FILE *f, const struct mt_read_stats *rs);
void mt_discard_warning(FILE *f, const struct mt_read_stats *rs)
{
    if (!rs->discarded && !rs->discarded_unknown)
        return;
    fprintf(f, "\n"
               "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n"
               "!!! WARNING: THE TRACER DISCARDED %" PRIu64 " EVENTS%s (%" PRIu64
               " gaps): its ring buffers\n"
               "!!! were full. Counts below are lower bounds and pairings may be incomplete.\n",
            rs->discarded, rs->discarded_unknown ? " OR MORE" : "", rs->discarded_msgs);
    if (rs->discarded_shared_msgs)
        fprintf(f, "!!! %" PRIu64 " of these gaps are in buffers shared by every traced process "
                   "(per-user\n!!! buffers): how many of their events were of --pid is "
                   "unknown.\n", rs->discarded_shared_msgs);
    if (rs->discarded_packets)
        fprintf(f, "!!! %" PRIu64 " PACKETS WERE LOST (overwrite mode): their events are not "
                   "counted.\n", rs->discarded_packets);
    fprintf(f, "!!! Use bigger sub-buffers (lttng enable-channel --subbuf-size, --num-subbuf).\n"
               "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n");
}

static void print_text(FILE *f, struct mt_stats *s, const struct mt_read_opts *ro, int top_n)
{
    const struct mt_read_stats *rs = &s->rs;
    char b1[64], b2[64], b3[64], mdesc[256];
    double dur = mt_stats_duration_s(s);

    fprintf(f, "monkey-trace summary: %d trace dir%s, %" PRIu64 " events (%s), read in "
               "%.2f s, %.2f s CPU (%.2f M events/s)\n",
            rs->ntraces, rs->ntraces == 1 ? "" : "s", rs->events,
            mt_monkey_desc(ro, rs, mdesc, sizeof(mdesc)), rs->seconds, rs->cpu_seconds,
            rs->seconds > 0 ? (double)rs->events / rs->seconds / 1e6 : 0);
    if (ro->pid >= 0 || ro->host) {
        char flt[128];
        fprintf(f, "filters:%s (%" PRIu64 " monkey:* events of other processes or hosts left "
                   "out)\n", mt_filter_desc(ro, flt, sizeof(flt)), rs->monkey_filtered);
        if (rs->discarded_excluded_msgs)
            fprintf(f, "note: the tracer discarded %" PRIu64 " events (%" PRIu64 " gaps) in "
                       "buffers that hold only other processes' or hosts' events: not counted "
                       "here\n", rs->discarded_excluded, rs->discarded_excluded_msgs);
    }
    if (!rs->monkey_events) {
        mt_no_events_note(f, ro, rs);
        mt_discard_warning(f, rs);
        return;
    }
    fprintf(f, "time: %s .. +%.3f s\n", fmt_time(s->first_ts, b1, sizeof(b1)), dur);
    for (uint32_t p = 0; p < mt_nprocs; p++) {
        int nw = 0;
        for (int w = 0; w < s->nworkers; w++)
            if (s->workers[w].proc == p && s->workers[w].id >= 0)
                nw++;
        char pid[24] = "?";
        if (mt_have_vpid)
            snprintf(pid, sizeof(pid), "%lld", (long long)mt_procs[p].vpid);
        fprintf(f, "process: host %s pid %s%s%s%s: %" PRIu64 " requests, %" PRIu64
                   " connections accepted, %d workers seen\n",
                mt_procs[p].host[0] ? mt_procs[p].host : "?", pid,
                mt_procs[p].procname[0] ? " (" : "", mt_procs[p].procname,
                mt_procs[p].procname[0] ? ")" : "", p < s->nprocalloc ? s->proc_requests[p] : 0,
                p < s->nprocalloc ? s->proc_conns[p] : 0, nw);
    }
    mt_vpid_note(f);
    mt_discard_warning(f, rs);

    /* requests */
    fprintf(f, "\nRequests\n");
    uint64_t inflight = s->req_begin > s->req_end ? s->req_begin - s->req_end : 0;
    double peak = peak_rate(s);
    fprintf(f, "  completed %" PRIu64 " (request_begin %" PRIu64 ", request_end %" PRIu64
               "), %.1f/s average, ",
            s->req_end, s->req_begin, s->req_end, dur > 0 ? (double)s->req_end / dur : 0);
    if (peak >= 0)
        fprintf(f, "%.0f/s peak\n", peak);
    else
        fprintf(f, "no peak (the trace is shorter than a second)\n");
    if (inflight)
        fprintf(f, "  begun but not ended in the trace: %" PRIu64 "\n", inflight);
    fprintf(f, "  status classes:");
    for (int i = 0; i < 6; i++)
        if (s->status_class[i] || (i >= 1 && i <= 4))
            fprintf(f, " %s %" PRIu64 " (%.1f%%)", class_names[i], s->status_class[i],
                    s->req_end ? 100.0 * (double)s->status_class[i] / (double)s->req_end : 0);
    fprintf(f, "\n  status codes:");
    for (int st = 0; st < 1000; st++)
        if (s->status[st])
            fprintf(f, " %d: %" PRIu64, st, s->status[st]);
    if (s->status_other)
        fprintf(f, " other: %" PRIu64, s->status_other);
    fprintf(f, "\n  bytes sent %s, connection not kept after %" PRIu64 " responses\n",
            mt_fmt_bytes(s->bytes_sent, b1, sizeof(b1)), s->keepalive_no);

    /* latency */
    fprintf(f, "\nLatency (request head parsed to last byte sent)\n");
    fprintf(f, "  %-22s %10s", "", "count");
    for (int i = 0; i < 5; i++)
        fprintf(f, " %9s", pct_names[i]);
    fputc('\n', f);
    pct_row(f, "all", &s->lat);
    for (int w = 0; w < s->nworkers; w++) {
        if (!s->workers[w].lat.n || s->workers[w].merged)
            continue;
        char lab[64];
        snprintf(lab, sizeof(lab), "worker %s", mt_worker_label(s, w, b1, sizeof(b1)));
        pct_row(f, lab, &s->workers[w].lat);
    }

    /* slowest URIs */
    int *u = mt_xmalloc((size_t)(top_n + 1) * sizeof(int));
    int nu = mt_stats_slowest_uris(s, u, top_n);
    fprintf(f, "\nSlowest URIs (by p99; path without query; %d tracked%s)\n", s->nuris,
            s->uri_untracked ? ", table full: the least slow were dropped" : "");
    fprintf(f, "  %10s %9s %9s %9s %9s %9s  %s\n", "count", "p50", "p90", "p99", "p99.9", "max",
            "uri");
    for (int i = 0; i < nu; i++) {
        struct mt_uri *x = &s->uris[u[i]];
        char pr[MT_URI_MAX * 4 + 8];
        fprintf(f, "  %10" PRIu64, x->count);
        for (int k = 0; k < 5; k++)
            fprintf(f, " %9s", mt_fmt_ns(mt_hist_pct(x->lat, pcts[k]), b1, sizeof(b1)));
        fprintf(f, "  %s\n", mt_printable(x->path, x->len, pr, sizeof(pr)));
    }
    free(u);

    /* rate over time */
    int nb = s->tl.nb;
    int group = 1; /* 1, 2, 5, 10, 20, 50... buckets per line, at most 30 lines */
    for (int k = 0; (nb + group - 1) / group > 30; k++)
        group = k % 3 == 1 ? group / 2 * 5 : group * 2;
    double bw = (double)s->tl.width * group / 1e9;
    fprintf(f, "\nRate over time (requests/s, %.3g s per line; counts per line)\n", bw);
    fprintf(f, "  %10s %9s %7s %7s %7s %7s %7s %7s\n", "from", "req/s", "2xx", "3xx", "4xx", "5xx",
            "other", "errors");
    for (int i = 0; i < nb; i += group) {
        uint64_t sum[TL_FIXED] = {0};
        for (int j = i; j < i + group && j < nb; j++)
            for (int r = 0; r < TL_FIXED; r++)
                sum[r] += s->tl.rows[r][j];
        double from = (double)(s->tl.t0 + (int64_t)i * s->tl.width - s->first_ts) / 1e9;
        double cov = bucket_s(s, i, group);
        if (from < 0)
            from = 0;
        fprintf(f, "  %+9.2fs %9.1f %7" PRIu64 " %7" PRIu64 " %7" PRIu64 " %7" PRIu64 " %7" PRIu64
                   " %7" PRIu64 "%s\n",
                from, cov > 0 ? (double)sum[TL_REQ] / cov : 0.0, sum[TL_C2], sum[TL_C3], sum[TL_C4], sum[TL_C5],
                sum[TL_C1] + sum[TL_COTHER], sum[TL_ERR], sum[TL_DISC] ? "  DISCARDED EVENTS" : "");
    }

    /* connections */
    fprintf(f, "\nConnections\n");
    uint64_t open_end = 0;
    for (size_t i = 0; i < s->conns.cap; i++)
        if (s->conns.t[i].used && s->conns.t[i].accepted)
            open_end++;
    fprintf(f, "  accepted %" PRIu64 ", closed %" PRIu64 " (%" PRIu64
               " of them accepted before the trace began), open at the end %" PRIu64 "\n",
            s->accepted, s->closed, s->closed_before, open_end);
    if (s->req_per_conn.n)
        fprintf(f, "  requests per connection: mean %.2f, p50 %" PRIu64 ", p90 %" PRIu64
                   ", p99 %" PRIu64 ", max %" PRIu64 "\n",
                s->req_per_conn.sum / (double)s->req_per_conn.n, mt_hist_pct(&s->req_per_conn, 50),
                mt_hist_pct(&s->req_per_conn, 90), mt_hist_pct(&s->req_per_conn, 99),
                s->req_per_conn.max);
    if (s->lifetime.n) {
        fprintf(f, "  lifetime:");
        for (int k = 0; k < 5; k++)
            fprintf(f, " %s %s", pct_names[k],
                    mt_fmt_ns(mt_hist_pct(&s->lifetime, pcts[k]), b1, sizeof(b1)));
        fputc('\n', f);
    }
    fprintf(f, "  close reasons:");
    for (int r = 0; r < 16; r++)
        if (s->close_reason[r])
            fprintf(f, " %s %" PRIu64, r == 15 ? "unknown" : mt_close_reason(r), s->close_reason[r]);
    if (!s->closed)
        fprintf(f, " none");
    fprintf(f, "\n  timeouts:");
    uint64_t nto = 0;
    for (int k = 0; k < 8; k++)
        if (s->timeout_kind[k]) {
            fprintf(f, " %s %" PRIu64, k == 7 ? "unknown" : mt_timeout_kind(k), s->timeout_kind[k]);
            nto += s->timeout_kind[k];
        }
    if (!nto)
        fprintf(f, " none");
    fputc('\n', f);
    if (mt_class_present[MT_EV_EPOLL])
        fprintf(f, "  forced closes: %" PRIu64 " (seed event \"FORCED CLOSE\")\n", s->forced_closes);
    else
        fprintf(f, "  forced closes: unknown (the seed event monkey:epoll was not recorded)\n");
    if (s->over_capacity)
        fprintf(f, "  refused over capacity (503 without a connection): %" PRIu64 "\n",
                s->over_capacity);

    struct mt_slow *sl[MT_SLOW_MAX];
    int nsl = mt_stats_slowest_conns(s, sl, top_n < MT_SLOW_MAX ? top_n : MT_SLOW_MAX);
    if (nsl) {
        fprintf(f, "  slowest connections (slowest request, or the time open when none "
                   "completed; follow one with `monkey-trace conn TRACE --conn-id ID`):\n");
        for (int i = 0; i < nsl; i++) {
            char pr[MT_URI_MAX * 4 + 8], who[128];
            if (mt_nprocs > 1)
                snprintf(who, sizeof(who), "pid %s conn %" PRIu64,
                         mt_proc_label(sl[i]->proc, b2, sizeof(b2)), sl[i]->id);
            else
                snprintf(who, sizeof(who), "conn %" PRIu64, sl[i]->id);
            fprintf(f, "    %s (w%d, fd %d, %s port %d): open %s, %u requests", who,
                    sl[i]->worker, sl[i]->fd, sl[i]->peer[0] ? sl[i]->peer : "?", sl[i]->port,
                    mt_fmt_ns((uint64_t)(sl[i]->end_ts - sl[i]->first_ts), b1, sizeof(b1)),
                    sl[i]->requests);
            if (sl[i]->max_req_ns)
                fprintf(f, ", slowest %s %s", mt_fmt_ns(sl[i]->max_req_ns, b3, sizeof(b3)),
                        mt_printable(sl[i]->uri, strlen(sl[i]->uri), pr, sizeof(pr)));
            else if (mt_class_present[MT_EV_REQUEST_END])
                fprintf(f, ", no request completed");
            else
                fprintf(f, ", request_end not recorded");
            if (sl[i]->closed)
                fprintf(f, ", closed: %s\n", mt_close_reason(sl[i]->reason));
            else
                fprintf(f, ", still open at the end\n");
        }
    }

    /* errors */
    fprintf(f, "\nErrors by site (%" PRIu64 ")\n", s->errors);
    for (int site = 0; site < 16; site++) {
        if (!s->error_site[site])
            continue;
        fprintf(f, "  %-10s %8" PRIu64 "  ", site == 15 ? "unknown" : mt_error_site(site),
                s->error_site[site]);
        for (int k = 0; k < s->nerrkeys; k++) {
            const struct mt_errkey *e = &s->errkeys[k];
            int es = (e->site >= 0 && e->site < 15) ? (int)e->site : 15;
            if (es != site)
                continue;
            if (e->err)
                fprintf(f, " [errno %s, status %lld: %" PRIu64 "]", mt_strerrno(e->err),
                        (long long)e->status, e->count);
            else
                fprintf(f, " [status %lld: %" PRIu64 "]", (long long)e->status, e->count);
        }
        fputc('\n', f);
    }

    /* load balance */
    fprintf(f, "\nLoad balance across workers\n");
    fprintf(f, "  %-16s %10s %10s %7s %9s %10s %8s\n", "worker", "accepted", "requests", "share",
            "errors", "active now", "max");
    for (int w = 0; w < s->nworkers; w++) {
        struct mt_worker *wk = &s->workers[w];
        if (wk->merged || (wk->id < 0 && !wk->requests && !wk->accepted && !wk->closed))
            continue;
        char act[24] = "-", amax[24] = "-";
        if (wk->have_stats) {
            snprintf(act, sizeof(act), "%lld", (long long)wk->stats_active);
            snprintf(amax, sizeof(amax), "%lld", (long long)wk->stats_active_max);
        }
        fprintf(f, "  %-16s %10" PRIu64 " %10" PRIu64 " %6.1f%% %9" PRIu64 " %10s %8s\n",
                mt_worker_label(s, w, b1, sizeof(b1)), wk->accepted, wk->requests,
                s->req_end ? 100.0 * (double)wk->requests / (double)s->req_end : 0, wk->errors,
                act, amax);
    }
    for (uint32_t p = 0; p < mt_nprocs; p++) {
        uint64_t maxreq = 0, nwk = 0, totreq = 0;
        for (int w = 0; w < s->nworkers; w++) {
            struct mt_worker *wk = &s->workers[w];
            if (wk->proc != p || wk->id < 0)
                continue;
            nwk++;
            totreq += wk->requests;
            if (wk->requests > maxreq)
                maxreq = wk->requests;
        }
        if (nwk > 1 && totreq)
            fprintf(f, "  imbalance%s%s: busiest worker / mean = %.2f (1.00 is perfectly even)\n",
                    mt_nprocs > 1 ? " of pid " : "",
                    mt_nprocs > 1 ? mt_proc_label(p, b1, sizeof(b1)) : "",
                    (double)maxreq / ((double)totreq / (double)nwk));
    }

    fprintf(f, "\nEvents:");
    static const char *const kn[MT_EV_COUNT] = {
        "other",        "epoll",         "epoll_state", "scheduler",      "conn_accept",
        "conn_close",   "conn_timeout",  "request_begin", "request_end", "request_header",
        "error",        "worker_stats",  "unknown monkey"};
    for (int k = 1; k < MT_EV_COUNT; k++)
        if (s->kind_count[k])
            fprintf(f, " %s %" PRIu64, kn[k], s->kind_count[k]);
    fputc('\n', f);
    mt_discard_warning(f, rs);
}

/* ---- JSON ------------------------------------------------------------------------------------ */

static void json_hist(FILE *f, const struct mt_hist *h)
{
    fprintf(f, "{\"count\": %" PRIu64, h->n);
    for (int i = 0; i < 5; i++)
        fprintf(f, ", \"%s_ns\": %" PRIu64, pct_names[i], mt_hist_pct(h, pcts[i]));
    fprintf(f, ", \"mean_ns\": %.0f}", h->n ? h->sum / (double)h->n : 0.0);
}

static void print_json(FILE *f, struct mt_stats *s, int top_n)
{
    const struct mt_read_stats *rs = &s->rs;
    double dur = mt_stats_duration_s(s);
    char b[96];

    fprintf(f, "{\n  \"trace_dirs\": %d,\n  \"events\": %" PRIu64 ",\n  \"monkey_events\": %" PRIu64
               ",\n",
            rs->ntraces, rs->events, rs->monkey_events);
    fprintf(f, "  \"read_seconds\": %.3f,\n  \"read_cpu_seconds\": %.3f,\n", rs->seconds,
            rs->cpu_seconds);
    fprintf(f, "  \"discarded_events\": %" PRIu64
               ",\n  \"discarded_unknown_count\": %" PRIu64 ",\n  \"discarded_gaps\": %" PRIu64
               ",\n  \"discarded_packets\": %" PRIu64 ",\n  \"discarded_shared_gaps\": %" PRIu64
               ",\n  \"discarded_excluded_events\": %" PRIu64
               ",\n  \"discarded_excluded_gaps\": %" PRIu64 ",\n",
            rs->discarded, rs->discarded_unknown, rs->discarded_msgs, rs->discarded_packets,
            rs->discarded_shared_msgs, rs->discarded_excluded, rs->discarded_excluded_msgs);
    fprintf(f, "  \"filtered_out_events\": %" PRIu64 ",\n", rs->monkey_filtered);
    fprintf(f, "  \"first_ns\": %lld,\n  \"last_ns\": %lld,\n  \"duration_s\": %.6f,\n",
            (long long)s->first_ts, (long long)s->last_ts, dur);
    fprintf(f, "  \"have_vpid\": %s,\n  \"have_vtid\": %s,\n", mt_have_vpid ? "true" : "false",
            mt_have_vtid ? "true" : "false");
    fprintf(f, "  \"processes\": [");
    for (uint32_t p = 0; p < mt_nprocs; p++) {
        fprintf(f, "%s\n    {\"host\": ", p ? "," : "");
        mt_json_str(f, mt_procs[p].host, strlen(mt_procs[p].host));
        fprintf(f, ", \"vpid\": %lld, \"procname\": ", (long long)mt_procs[p].vpid);
        mt_json_str(f, mt_procs[p].procname, strlen(mt_procs[p].procname));
        fprintf(f, ", \"requests\": %" PRIu64 ", \"accepted\": %" PRIu64 "}",
                p < s->nprocalloc ? s->proc_requests[p] : 0, p < s->nprocalloc ? s->proc_conns[p] : 0);
    }
    fprintf(f, "\n  ],\n");
    fprintf(f, "  \"requests\": {\"begin\": %" PRIu64 ", \"end\": %" PRIu64
               ", \"rate_avg\": %.3f, \"rate_peak\": ",
            s->req_begin, s->req_end, dur > 0 ? (double)s->req_end / dur : 0);
    double peak = peak_rate(s);
    if (peak >= 0)
        fprintf(f, "%.3f", peak);
    else
        fprintf(f, "null");
    fprintf(f, ", \"bytes_sent\": %" PRIu64 ", \"not_kept_alive\": %" PRIu64 ",\n",
            s->bytes_sent, s->keepalive_no);
    fprintf(f, "    \"status_classes\": {");
    for (int i = 0; i < 6; i++)
        fprintf(f, "%s\"%s\": %" PRIu64, i ? ", " : "", class_names[i], s->status_class[i]);
    fprintf(f, "},\n    \"status_codes\": {");
    int first = 1;
    for (int st = 0; st < 1000; st++)
        if (s->status[st]) {
            fprintf(f, "%s\"%d\": %" PRIu64, first ? "" : ", ", st, s->status[st]);
            first = 0;
        }
    fprintf(f, "}},\n");
    fprintf(f, "  \"latency\": ");
    json_hist(f, &s->lat);
    fprintf(f, ",\n  \"workers\": [");
    first = 1;
    for (int w = 0; w < s->nworkers; w++) {
        struct mt_worker *wk = &s->workers[w];
        if (wk->merged || (wk->id < 0 && !wk->requests && !wk->accepted && !wk->closed))
            continue;
        fprintf(f, "%s\n    {\"pid\": %lld, \"host\": ", first ? "" : ",",
                (long long)mt_procs[wk->proc].vpid);
        mt_json_str(f, mt_procs[wk->proc].host, strlen(mt_procs[wk->proc].host));
        fprintf(f, ", \"worker\": %d, \"accepted\": %" PRIu64 ", \"closed\": %" PRIu64
                   ", \"requests\": %" PRIu64 ", \"errors\": %" PRIu64 ", \"share\": %.4f",
                wk->id, wk->accepted, wk->closed, wk->requests, wk->errors,
                s->req_end ? (double)wk->requests / (double)s->req_end : 0);
        if (wk->have_stats)
            fprintf(f, ", \"active_last\": %lld, \"active_max\": %lld, \"stats_requests\": %lld",
                    (long long)wk->stats_active, (long long)wk->stats_active_max,
                    (long long)wk->stats_requests);
        fprintf(f, ", \"latency\": ");
        json_hist(f, &wk->lat);
        fputc('}', f);
        first = 0;
    }
    fprintf(f, "\n  ],\n  \"slowest_uris\": [");
    int *u = mt_xmalloc((size_t)(top_n + 1) * sizeof(int));
    int nu = mt_stats_slowest_uris(s, u, top_n);
    for (int i = 0; i < nu; i++) {
        struct mt_uri *x = &s->uris[u[i]];
        fprintf(f, "%s\n    {\"uri\": ", i ? "," : "");
        mt_json_str(f, x->path, x->len);
        fprintf(f, ", \"latency\": ");
        json_hist(f, x->lat);
        fputc('}', f);
    }
    free(u);
    fprintf(f, "\n  ],\n  \"uris_tracked\": %d,\n  \"uri_requests_untracked\": %" PRIu64 ",\n",
            s->nuris, s->uri_untracked);

    fprintf(f, "  \"rate\": {\"bucket_s\": %.3f, \"start_ns\": %lld, \"requests\": [",
            (double)s->tl.width / 1e9, (long long)s->tl.t0);
    for (int i = 0; i < s->tl.nb; i++)
        fprintf(f, "%s%" PRIu64, i ? ", " : "", s->tl.rows[TL_REQ][i]);
    fprintf(f, "],\n    \"classes\": {");
    for (int c = 0; c < 6; c++) {
        fprintf(f, "%s\"%s\": [", c ? ", " : "", class_names[c]);
        for (int i = 0; i < s->tl.nb; i++)
            fprintf(f, "%s%" PRIu64, i ? ", " : "", s->tl.rows[TL_C1 + c][i]);
        fputc(']', f);
    }
    fprintf(f, "},\n    \"errors\": [");
    for (int i = 0; i < s->tl.nb; i++)
        fprintf(f, "%s%" PRIu64, i ? ", " : "", s->tl.rows[TL_ERR][i]);
    fprintf(f, "]},\n");

    uint64_t open_end = 0;
    for (size_t i = 0; i < s->conns.cap; i++)
        if (s->conns.t[i].used && s->conns.t[i].accepted)
            open_end++;
    fprintf(f, "  \"connections\": {\"accepted\": %" PRIu64 ", \"closed\": %" PRIu64
               ", \"closed_accepted_before_trace\": %" PRIu64 ", \"open_at_end\": %" PRIu64 ",\n",
            s->accepted, s->closed, s->closed_before, open_end);
    fprintf(f, "    \"requests_per_connection\": {\"mean\": %.3f, \"p50\": %" PRIu64
               ", \"p90\": %" PRIu64 ", \"p99\": %" PRIu64 ", \"max\": %" PRIu64 "},\n",
            s->req_per_conn.n ? s->req_per_conn.sum / (double)s->req_per_conn.n : 0.0,
            mt_hist_pct(&s->req_per_conn, 50), mt_hist_pct(&s->req_per_conn, 90),
            mt_hist_pct(&s->req_per_conn, 99), s->req_per_conn.max);
    fprintf(f, "    \"lifetime\": ");
    json_hist(f, &s->lifetime);
    fprintf(f, ",\n    \"close_reasons\": {");
    first = 1;
    for (int r = 0; r < 16; r++)
        if (s->close_reason[r]) {
            fprintf(f, "%s\"%s\": %" PRIu64, first ? "" : ", ",
                    r == 15 ? "unknown" : mt_close_reason(r), s->close_reason[r]);
            first = 0;
        }
    fprintf(f, "},\n    \"timeouts\": {");
    first = 1;
    for (int k = 0; k < 8; k++)
        if (s->timeout_kind[k]) {
            fprintf(f, "%s\"%s\": %" PRIu64, first ? "" : ", ",
                    k == 7 ? "unknown" : mt_timeout_kind(k), s->timeout_kind[k]);
            first = 0;
        }
    fprintf(f, "},\n    \"forced_closes\": ");
    if (mt_class_present[MT_EV_EPOLL])
        fprintf(f, "%" PRIu64, s->forced_closes);
    else
        fprintf(f, "null");
    fprintf(f, ", \"over_capacity\": %" PRIu64 ",\n    \"slowest\": [", s->over_capacity);
    struct mt_slow *sl[MT_SLOW_MAX];
    int nsl = mt_stats_slowest_conns(s, sl, top_n < MT_SLOW_MAX ? top_n : MT_SLOW_MAX);
    for (int i = 0; i < nsl; i++) {
        fprintf(f, "%s\n      {\"pid\": %lld, \"conn_id\": %" PRIu64 ", \"worker\": %d, \"fd\": %d, "
                   "\"peer\": ",
                i ? "," : "", (long long)mt_procs[sl[i]->proc].vpid, sl[i]->id, sl[i]->worker,
                sl[i]->fd);
        mt_json_str(f, sl[i]->peer, strlen(sl[i]->peer));
        fprintf(f, ", \"port\": %d, \"open_ns\": %lld, \"requests\": %u, \"slowest_request_ns\": "
                   "%" PRIu64 ", \"closed\": %s, \"reason\": ",
                sl[i]->port, (long long)(sl[i]->end_ts - sl[i]->first_ts), sl[i]->requests,
                sl[i]->max_req_ns, sl[i]->closed ? "true" : "false");
        if (sl[i]->closed) {
            const char *r = mt_close_reason(sl[i]->reason);
            mt_json_str(f, r, strlen(r));
        } else {
            fprintf(f, "null");
        }
        fprintf(f, ", \"slowest_uri\": ");
        mt_json_str(f, sl[i]->uri, strlen(sl[i]->uri));
        fputc('}', f);
    }
    fprintf(f, "\n    ]},\n");

    fprintf(f, "  \"errors\": {\"total\": %" PRIu64 ", \"by_site\": {", s->errors);
    first = 1;
    for (int site = 0; site < 16; site++)
        if (s->error_site[site]) {
            fprintf(f, "%s\"%s\": %" PRIu64, first ? "" : ", ",
                    site == 15 ? "unknown" : mt_error_site(site), s->error_site[site]);
            first = 0;
        }
    fprintf(f, "}, \"detail\": [");
    for (int k = 0; k < s->nerrkeys; k++) {
        const struct mt_errkey *e = &s->errkeys[k];
        const char *site = mt_error_site(e->site);
        fprintf(f, "%s{\"site\": ", k ? ", " : "");
        mt_json_str(f, site, strlen(site));
        fprintf(f, ", \"errno\": %lld, \"errno_name\": ", (long long)e->err);
        const char *en = e->err ? mt_strerrno(e->err) : "";
        mt_json_str(f, en, strlen(en));
        fprintf(f, ", \"status\": %lld, \"count\": %" PRIu64 "}", (long long)e->status, e->count);
    }
    fprintf(f, "]},\n  \"events_by_name\": {");
    static const char *const kn[MT_EV_COUNT] = {
        "other",       "epoll",        "epoll_state",   "scheduler",   "conn_accept",
        "conn_close",  "conn_timeout", "request_begin", "request_end", "request_header",
        "error",       "worker_stats", "unknown_monkey"};
    first = 1;
    for (int k = 1; k < MT_EV_COUNT; k++)
        if (s->kind_count[k]) {
            fprintf(f, "%s\"%s\": %" PRIu64, first ? "" : ", ", kn[k], s->kind_count[k]);
            first = 0;
        }
    (void)b;
    fprintf(f, "}\n}\n");
}

int mt_cmd_summary(struct mt_common *c)
{
    static struct mt_stats s;
    mt_stats_init(&s, false, c->top_n < 8 ? 8 : c->top_n);
    struct mt_sink sink = {.ctx = &s, .event = mt_stats_event, .discarded = mt_stats_discarded};
    if (mt_read(&c->ro, &sink, &s.rs) != 0)
        return 2;
    mt_stats_finish(&s);
    if (c->json)
        print_json(stdout, &s, c->top_n);
    else
        print_text(stdout, &s, &c->ro, c->top_n);
    if (s.rs.discarded || s.rs.discarded_unknown)
        fprintf(stderr, "monkey-trace: WARNING: the tracer discarded %" PRIu64
                        "%s events%s: the figures are incomplete\n",
                s.rs.discarded, s.rs.discarded_unknown ? " or more" : "",
                s.rs.discarded_packets ? " (packets lost)" : "");
    mt_stats_free(&s);
    return 0;
}
