/* `monkey-trace report`: one self-contained XHTML file with inline SVG charts.  No script,
 * no external resource; every text from the trace is escaped (and non-ASCII bytes written
 * as \xNN), so the file is always well-formed XML. */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "stats.h"

void mt_discard_warning(FILE *f, const struct mt_read_stats *rs);

static const char *const class_names[6] = {"1xx", "2xx", "3xx", "4xx", "5xx", "other"};
static const char *const class_colors[6] = {"#9e9e9e", "#2e7d32", "#1565c0",
                                            "#ef6c00", "#c62828", "#6a1b9a"};
static const char *const palette[10] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                        "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
static const double pcts[5] = {50, 90, 99, 99.9, 100};
static const char *const pct_names[5] = {"p50", "p90", "p99", "p99.9", "max"};

static void x(FILE *f, const char *s)
{
    mt_xml_str(f, s, strlen(s));
}

/* a "nice" step for about n ticks over [0, max] */
static double nice_step(double max, int n)
{
    if (max <= 0)
        return 1;
    double raw = max / n, mag = pow(10, floor(log10(raw))), r = raw / mag;
    double step = r < 1.5 ? 1 : r < 3 ? 2 : r < 7 ? 5 : 10;
    return step * mag;
}

static const char *fmt_num(double v, char *buf, size_t len)
{
    if (v >= 1e6)
        snprintf(buf, len, "%.1fM", v / 1e6);
    else if (v >= 1e4)
        snprintf(buf, len, "%.0fk", v / 1e3);
    else if (v >= 1e3)
        snprintf(buf, len, "%.1fk", v / 1e3);
    else if (v == floor(v))
        snprintf(buf, len, "%.0f", v);
    else
        snprintf(buf, len, "%.2g", v);
    return buf;
}

/* y axis with grid lines; returns the axis maximum (>= max) */
static double y_axis(FILE *f, double max, int X0, int Y0, int W, int H, const char *label)
{
    double step = nice_step(max, 4);
    double top = ceil(max / step) * step;
    if (top <= 0)
        top = step;
    char b[32];
    for (double v = 0; v <= top + step / 2; v += step) {
        double y = Y0 + H - v / top * H;
        fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" class=\"grid\"/>\n", X0, y,
                X0 + W, y);
        fprintf(f, "<text x=\"%d\" y=\"%.1f\" class=\"yl\">%s</text>\n", X0 - 4, y + 4,
                fmt_num(v, b, sizeof(b)));
    }
    fprintf(f, "<text x=\"12\" y=\"%d\" class=\"al\" transform=\"rotate(-90 12 %d)\">", Y0 + H / 2,
            Y0 + H / 2);
    x(f, label);
    fprintf(f, "</text>\n");
    return top;
}

/* time axis in seconds from the start of the trace */
static void t_axis(FILE *f, double secs, int X0, int Y0, int W, int H)
{
    double step = nice_step(secs, 8);
    char b[32];
    for (double v = 0; v <= secs + 1e-9; v += step) {
        double xx = X0 + v / secs * W;
        fprintf(f, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" class=\"tick\"/>\n", xx,
                Y0 + H, xx, Y0 + H + 4);
        fprintf(f, "<text x=\"%.1f\" y=\"%d\" class=\"xl\">+%ss</text>\n", xx, Y0 + H + 16,
                fmt_num(v, b, sizeof(b)));
    }
    fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" class=\"axis\"/>\n", X0, Y0 + H,
            X0 + W, Y0 + H);
}

/* ---- charts ------------------------------------------------------------------------------ */

static void chart_latency(FILE *f, struct mt_stats *s)
{
    const int W = 860, H = 260, X0 = 70, Y0 = 20, PW = W - X0 - 20, PH = H - Y0 - 50;
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"latency-histogram\" width=\"%d\" "
               "height=\"%d\" viewBox=\"0 0 %d %d\">\n",
            W, H, W, H);
    fprintf(f, "<title>Request latency histogram, logarithmic time axis</title>\n");
    if (!s->lat.n) {
        fprintf(f, "<text x=\"%d\" y=\"%d\">no request_end in the trace</text>\n</svg>\n", X0,
                Y0 + 40);
        return;
    }
    /* bins of a quarter decade */
    double lo = floor(log10(s->lat.min > 0 ? (double)s->lat.min : 1.0));
    double hi = ceil(log10((double)s->lat.max + 1));
    if (hi <= lo)
        hi = lo + 1;
    int nbins = (int)((hi - lo) * 4);
    uint64_t *bins = mt_xcalloc((size_t)nbins, sizeof(uint64_t));
    for (int i = 0; i < MT_HIST_N; i++) {
        if (!s->lat.b[i])
            continue;
        double mid = ((double)mt_hist_bucket_low(i) + (double)mt_hist_bucket_high(i)) / 2;
        int k = (int)((log10(mid > 0 ? mid : 1) - lo) * 4);
        if (k < 0)
            k = 0;
        if (k >= nbins)
            k = nbins - 1;
        bins[k] += s->lat.b[i];
    }
    uint64_t maxc = 0;
    for (int k = 0; k < nbins; k++)
        if (bins[k] > maxc)
            maxc = bins[k];
    double top = y_axis(f, (double)maxc, X0, Y0, PW, PH, "requests");
    double bw = (double)PW / nbins;
    char b1[32], b2[32];
    for (int k = 0; k < nbins; k++) {
        if (!bins[k])
            continue;
        double h = (double)bins[k] / top * PH;
        fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" class=\"bar\">"
                   "<title>%s .. %s: %" PRIu64 " requests</title></rect>\n",
                X0 + k * bw + 0.5, Y0 + PH - h, bw - 1, h,
                mt_fmt_ns((uint64_t)pow(10, lo + k / 4.0), b1, sizeof(b1)),
                mt_fmt_ns((uint64_t)pow(10, lo + (k + 1) / 4.0), b2, sizeof(b2)), bins[k]);
    }
    for (double d = lo; d <= hi + 1e-9; d += 1) {
        double xx = X0 + (d - lo) / (hi - lo) * PW;
        fprintf(f, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" class=\"tick\"/>\n", xx,
                Y0 + PH, xx, Y0 + PH + 4);
        fprintf(f, "<text x=\"%.1f\" y=\"%d\" class=\"xl\">%s</text>\n", xx, Y0 + PH + 16,
                mt_fmt_ns((uint64_t)pow(10, d), b1, sizeof(b1)));
    }
    fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" class=\"axis\"/>\n", X0, Y0 + PH,
            X0 + PW, Y0 + PH);
    /* percentile markers */
    for (int i = 0; i < 5; i++) {
        if (i == 1)
            continue;
        uint64_t v = mt_hist_pct(&s->lat, pcts[i]);
        double xx = X0 + (log10(v > 0 ? (double)v : 1) - lo) / (hi - lo) * PW;
        fprintf(f, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" class=\"pct\"/>\n", xx, Y0,
                xx, Y0 + PH);
        bool right = xx > X0 + PW - 120;
        fprintf(f, "<text x=\"%.1f\" y=\"%d\" class=\"pl\"%s>%s %s</text>\n",
                right ? xx - 3 : xx + 3, Y0 + 10 + 12 * (i % 4),
                right ? " text-anchor=\"end\"" : "", pct_names[i], mt_fmt_ns(v, b1, sizeof(b1)));
    }
    fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"al\">request latency (log scale)</text>\n",
            X0 + PW / 2 - 60, H - 6);
    fprintf(f, "</svg>\n");
    free(bins);
}

/* group timeline buckets so that at most maxpts remain */
static int tl_group(const struct mt_stats *s, int maxpts)
{
    int g = (s->tl.nb + maxpts - 1) / maxpts;
    return g < 1 ? 1 : g;
}

static double tl_secs(const struct mt_stats *s)
{
    double secs = (double)s->tl.nb * (double)s->tl.width / 1e9;
    return secs > 0 ? secs : 1;
}

static void chart_workers(FILE *f, struct mt_stats *s)
{
    const int W = 860, H = 300, X0 = 70, Y0 = 20, PW = W - X0 - 160, PH = H - Y0 - 50;
    int g = tl_group(s, 400), npts = (s->tl.nb + g - 1) / g;
    double bsec = (double)s->tl.width * g / 1e9;
    double secs = tl_secs(s), maxv = 0;
    char b[96];

    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"rate-per-worker\" width=\"%d\" "
               "height=\"%d\" viewBox=\"0 0 %d %d\">\n",
            W, H, W, H);
    fprintf(f, "<title>Requests per second per worker over time</title>\n");
    for (int w = 0; w < s->nworkers; w++) {
        if (s->workers[w].merged || !s->workers[w].requests)
            continue;
        for (int p = 0; p < npts; p++) {
            uint64_t sum = 0;
            for (int j = p * g; j < (p + 1) * g && j < s->tl.nb; j++)
                sum += s->tl.rows[s->workers[w].tl_row][j];
            if ((double)sum / bsec > maxv)
                maxv = (double)sum / bsec;
        }
    }
    double top = y_axis(f, maxv, X0, Y0, PW, PH, "requests/s");
    t_axis(f, secs, X0, Y0, PW, PH);
    int li = 0;
    for (int w = 0; w < s->nworkers; w++) {
        if (s->workers[w].merged || !s->workers[w].requests)
            continue;
        const char *col = palette[li % 10];
        fprintf(f, "<polyline class=\"line\" stroke=\"%s\" points=\"", col);
        for (int p = 0; p < npts; p++) {
            uint64_t sum = 0;
            for (int j = p * g; j < (p + 1) * g && j < s->tl.nb; j++)
                sum += s->tl.rows[s->workers[w].tl_row][j];
            double xx = X0 + ((p + 0.5) * bsec) / secs * PW;
            double yy = Y0 + PH - ((double)sum / bsec) / top * PH;
            fprintf(f, "%.1f,%.1f ", xx, yy);
        }
        fprintf(f, "\"><title>worker ");
        x(f, mt_worker_label(s, w, b, sizeof(b)));
        fprintf(f, "</title></polyline>\n");
        fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"12\" height=\"12\" fill=\"%s\"/>", X0 + PW + 16,
                Y0 + li * 18, col);
        fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"lg\">worker ", X0 + PW + 32, Y0 + li * 18 + 10);
        x(f, mt_worker_label(s, w, b, sizeof(b)));
        fprintf(f, "</text>\n");
        li++;
    }
    fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"al\">time since the first event (%.3g s per "
               "point)</text>\n",
            X0 + PW / 2 - 100, H - 6, bsec);
    fprintf(f, "</svg>\n");
}

static void chart_status(FILE *f, struct mt_stats *s)
{
    const int W = 860, H = 300, X0 = 70, Y0 = 20, PW = W - X0 - 160, PH = H - Y0 - 50;
    int g = tl_group(s, 300), npts = (s->tl.nb + g - 1) / g;
    double bsec = (double)s->tl.width * g / 1e9, secs = tl_secs(s), maxv = 0;
    static const int order[6] = {1, 2, 3, 4, 0, 5};

    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"status-over-time\" width=\"%d\" "
               "height=\"%d\" viewBox=\"0 0 %d %d\">\n",
            W, H, W, H);
    fprintf(f, "<title>Responses per second by status class over time</title>\n");
    for (int p = 0; p < npts; p++) {
        uint64_t sum = 0;
        for (int j = p * g; j < (p + 1) * g && j < s->tl.nb; j++)
            sum += s->tl.rows[TL_REQ][j];
        if ((double)sum / bsec > maxv)
            maxv = (double)sum / bsec;
    }
    double top = y_axis(f, maxv, X0, Y0, PW, PH, "responses/s");
    t_axis(f, secs, X0, Y0, PW, PH);
    double bw = (double)PW * bsec / secs;
    for (int p = 0; p < npts; p++) {
        double base = 0;
        for (int oi = 0; oi < 6; oi++) {
            int c = order[oi];
            uint64_t sum = 0;
            for (int j = p * g; j < (p + 1) * g && j < s->tl.nb; j++)
                sum += s->tl.rows[TL_C1 + c][j];
            if (!sum)
                continue;
            double v = (double)sum / bsec, h = v / top * PH;
            fprintf(f, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"%s\">"
                       "<title>+%.3gs %s: %" PRIu64 "</title></rect>\n",
                    X0 + p * bw, Y0 + PH - base - h, bw > 1.5 ? bw - 0.5 : bw, h, class_colors[c],
                    p * bsec, class_names[c], sum);
            base += h;
        }
    }
    for (int oi = 0; oi < 6; oi++) {
        int c = order[oi];
        fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"12\" height=\"12\" fill=\"%s\"/>", X0 + PW + 16,
                Y0 + oi * 18, class_colors[c]);
        fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"lg\">%s (%" PRIu64 ")</text>\n", X0 + PW + 32,
                Y0 + oi * 18 + 10, class_names[c], s->status_class[c]);
    }
    fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"al\">time since the first event (%.3g s per "
               "bar)</text>\n",
            X0 + PW / 2 - 100, H - 6, bsec);
    fprintf(f, "</svg>\n");
}

static void chart_slowest(FILE *f, struct mt_stats *s)
{
    struct mt_slow *sl[MT_SLOW_MAX];
    int n = mt_stats_slowest_conns(s, sl, 15);
    const int ROW = 24, X0 = 250, W = 860, PW = W - X0 - 20, Y0 = 20;
    int H = Y0 + (n ? n : 1) * ROW + 50;
    char b1[32], b2[96];

    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"slowest-connections\" "
               "width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\">\n",
            W, H, W, H);
    fprintf(f, "<title>Timeline of the slowest connections</title>\n");
    if (!n) {
        fprintf(f, "<text x=\"20\" y=\"40\">no connection accepted in the trace</text>\n</svg>\n");
        return;
    }
    double maxlife = 1;
    for (int i = 0; i < n; i++)
        if ((double)(sl[i]->end_ts - sl[i]->first_ts) > maxlife)
            maxlife = (double)(sl[i]->end_ts - sl[i]->first_ts);
    /* time axis in ns from each connection's accept */
    double step = nice_step(maxlife, 6);
    for (double v = 0; v <= maxlife + 1; v += step) {
        double xx = X0 + v / maxlife * PW;
        fprintf(f, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" class=\"grid\"/>\n", xx, Y0,
                xx, Y0 + n * ROW);
        fprintf(f, "<text x=\"%.1f\" y=\"%d\" class=\"xl\">+%s</text>\n", xx, Y0 + n * ROW + 16,
                mt_fmt_ns((uint64_t)v, b1, sizeof(b1)));
    }
    for (int i = 0; i < n; i++) {
        struct mt_slow *c = sl[i];
        int y = Y0 + i * ROW;
        double life = (double)(c->end_ts - c->first_ts);
        fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"yl\">", X0 - 6, y + 15);
        if (mt_nprocs > 1)
            fprintf(f, "pid %s ", mt_proc_label(c->proc, b2, sizeof(b2)));
        fprintf(f, "conn %" PRIu64 " w%d ", c->id, c->worker);
        x(f, c->peer);
        fprintf(f, ":%d</text>\n", c->port);
        fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%d\" class=\"life\">"
                   "<title>conn %" PRIu64 ": open %s, %u requests, %s</title></rect>\n",
                X0, y + 6, life / maxlife * PW, ROW - 12, c->id,
                mt_fmt_ns((uint64_t)life, b1, sizeof(b1)), c->requests,
                c->closed ? mt_close_reason(c->reason) : "still open at the end");
        for (int k = 0; k < c->nspans; k++) {
            const struct mt_span *sp = &c->spans[k];
            double dur = sp->status < 0 ? life - (double)sp->begin : (double)sp->dur;
            double w = dur / maxlife * PW;
            if (w < 1.5)
                w = 1.5;
            const char *col = sp->status < 0 ? "#000000" : class_colors[sp->status >= 100 && sp->status < 600 ? sp->status / 100 - 1 : 5];
            fprintf(f, "<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"%s\">"
                       "<title>request %d: %s %d, %s</title></rect>\n",
                    X0 + (double)sp->begin / maxlife * PW, y + 3, w, ROW - 6, col, k + 1,
                    sp->status < 0 ? "never ended" : "status", sp->status < 0 ? 0 : sp->status,
                    mt_fmt_ns((uint64_t)dur, b1, sizeof(b1)));
        }
        if (c->truncated)
            fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"pl\">(first %d requests shown)</text>\n",
                    X0 + PW - 120, y + 15, MT_SPANS_MAX);
    }
    fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"al\">time since each connection's accept "
               "(grey: open; coloured: requests by status class; black: request never "
               "ended)</text>\n",
            X0 - 100, H - 6);
    fprintf(f, "</svg>\n");
}

/* ---- tables --------------------------------------------------------------------------------- */

static void td_ns(FILE *f, uint64_t v)
{
    char b[32];
    fprintf(f, "<td class=\"n\">%s</td>", mt_fmt_ns(v, b, sizeof(b)));
}

static void pct_cells(FILE *f, const struct mt_hist *h)
{
    fprintf(f, "<td class=\"n\">%" PRIu64 "</td>", h->n);
    for (int i = 0; i < 5; i++)
        td_ns(f, mt_hist_pct(h, pcts[i]));
}

static void write_report(FILE *f, struct mt_stats *s, const struct mt_common *cm)
{
    const struct mt_read_stats *rs = &s->rs;
    char b1[64], b2[96];
    double dur = mt_stats_duration_s(s);
    time_t t = (time_t)(s->first_ts / 1000000000LL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(b1, sizeof(b1), "%Y-%m-%d %H:%M:%S UTC", &tm);

    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE html>\n"
               "<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\">\n<head>\n"
               "<meta charset=\"UTF-8\"/>\n<title>Monkey trace report</title>\n<style>\n"
               "body{font-family:sans-serif;margin:2em;color:#222;max-width:1000px}\n"
               "table{border-collapse:collapse;margin:.5em 0 1.5em}\n"
               "td,th{border:1px solid #ccc;padding:2px 8px;text-align:left}\n"
               "td.n{text-align:right;font-variant-numeric:tabular-nums}\n"
               ".warn{background:#c62828;color:#fff;padding:1em;font-weight:bold;font-size:1.2em}\n"
               "svg{display:block;margin:.5em 0 1.5em;border:1px solid #eee}\n"
               "svg text{font-size:11px;font-family:sans-serif}\n"
               "svg .yl{text-anchor:end} svg .xl{text-anchor:middle} svg .al{font-size:12px}\n"
               "svg .grid{stroke:#eee} svg .axis,svg .tick{stroke:#555}\n"
               "svg .bar{fill:#1f77b4} svg .pct{stroke:#c62828;stroke-dasharray:4 3}\n"
               "svg .pl{fill:#c62828} svg .line{fill:none;stroke-width:1.5}\n"
               "svg .life{fill:#ddd}\n"
               "</style>\n</head>\n<body>\n");
    fprintf(f, "<h1>Monkey trace report</h1>\n<p>");
    for (int i = 0; i < cm->ro.ninputs; i++) {
        fprintf(f, "%s<code>", i ? ", " : "");
        x(f, cm->ro.inputs[i]);
        fprintf(f, "</code>");
    }
    char mdesc[256];
    fprintf(f, ": %d trace director%s, %" PRIu64 " events (", rs->ntraces,
            rs->ntraces == 1 ? "y" : "ies", rs->events);
    x(f, mt_monkey_desc(&cm->ro, rs, mdesc, sizeof(mdesc)));
    fprintf(f, "), from %s for %.3f s.</p>\n", b1, dur);
    if (rs->discarded || rs->discarded_unknown)
        fprintf(f, "<p class=\"warn\" id=\"discarded\">WARNING: the tracer discarded %" PRIu64
                   "%s events (%" PRIu64 " gaps): its ring buffers were full. Every count "
                   "below is a lower bound. Record with bigger sub-buffers (lttng "
                   "enable-channel --subbuf-size, --num-subbuf).</p>\n",
                rs->discarded, rs->discarded_unknown ? "+" : "", rs->discarded_msgs);

    /* overview */
    fprintf(f, "<h2>Overview</h2>\n<table id=\"overview\">\n");
    fprintf(f, "<tr><th>requests completed</th><td class=\"n\">%" PRIu64 "</td></tr>\n",
            s->req_end);
    fprintf(f, "<tr><th>requests begun</th><td class=\"n\">%" PRIu64 "</td></tr>\n", s->req_begin);
    fprintf(f, "<tr><th>average rate</th><td class=\"n\">%.1f/s</td></tr>\n",
            dur > 0 ? (double)s->req_end / dur : 0.0);
    for (int c = 0; c < 6; c++)
        fprintf(f, "<tr><th>status %s</th><td class=\"n\">%" PRIu64 "</td></tr>\n",
                class_names[c], s->status_class[c]);
    fprintf(f, "<tr><th>connections accepted / closed</th><td class=\"n\">%" PRIu64 " / %" PRIu64
               "</td></tr>\n",
            s->accepted, s->closed);
    fprintf(f, "<tr><th>errors</th><td class=\"n\">%" PRIu64 "</td></tr>\n", s->errors);
    fprintf(f, "<tr><th>bytes sent</th><td class=\"n\">%s</td></tr>\n",
            mt_fmt_bytes(s->bytes_sent, b1, sizeof(b1)));
    fprintf(f, "<tr><th>processes</th><td>");
    for (uint32_t p = 0; p < mt_nprocs; p++) {
        fprintf(f, "%s", p ? ", " : "");
        x(f, mt_procs[p].host);
        fprintf(f, " pid %lld", (long long)mt_procs[p].vpid);
    }
    fprintf(f, "</td></tr>\n</table>\n");

    fprintf(f, "<h2>Latency</h2>\n");
    chart_latency(f, s);
    fprintf(f, "<table id=\"latency\"><tr><th></th><th>count</th>");
    for (int i = 0; i < 5; i++)
        fprintf(f, "<th>%s</th>", pct_names[i]);
    fprintf(f, "</tr>\n<tr><th>all</th>");
    pct_cells(f, &s->lat);
    fprintf(f, "</tr>\n");
    for (int w = 0; w < s->nworkers; w++) {
        if (s->workers[w].merged || !s->workers[w].lat.n)
            continue;
        fprintf(f, "<tr><th>worker ");
        x(f, mt_worker_label(s, w, b2, sizeof(b2)));
        fprintf(f, "</th>");
        pct_cells(f, &s->workers[w].lat);
        fprintf(f, "</tr>\n");
    }
    fprintf(f, "</table>\n");

    fprintf(f, "<h3>Slowest URIs (by p99)</h3>\n<table id=\"uris\"><tr><th>uri</th><th>count</th>");
    for (int i = 0; i < 5; i++)
        fprintf(f, "<th>%s</th>", pct_names[i]);
    fprintf(f, "</tr>\n");
    int u[20];
    int nu = mt_stats_slowest_uris(s, u, 20);
    for (int i = 0; i < nu; i++) {
        fprintf(f, "<tr><td><code>");
        mt_xml_str(f, s->uris[u[i]].path, s->uris[u[i]].len);
        fprintf(f, "</code></td>");
        pct_cells(f, s->uris[u[i]].lat);
        fprintf(f, "</tr>\n");
    }
    fprintf(f, "</table>\n");

    fprintf(f, "<h2>Requests per second per worker</h2>\n");
    chart_workers(f, s);
    fprintf(f, "<h2>Status classes over time</h2>\n");
    chart_status(f, s);
    fprintf(f, "<h2>Slowest connections</h2>\n<p>The connections with the slowest request (or "
               "open longest without completing one). Follow one with <code>monkey-trace conn "
               "TRACE --conn-id ID</code>.</p>\n");
    chart_slowest(f, s);

    fprintf(f, "<h2>Connections</h2>\n<table id=\"connections\">\n");
    fprintf(f, "<tr><th>requests per connection</th><td>mean %.2f, p50 %" PRIu64 ", p90 %" PRIu64
               ", p99 %" PRIu64 ", max %" PRIu64 "</td></tr>\n",
            s->req_per_conn.n ? s->req_per_conn.sum / (double)s->req_per_conn.n : 0.0,
            mt_hist_pct(&s->req_per_conn, 50), mt_hist_pct(&s->req_per_conn, 90),
            mt_hist_pct(&s->req_per_conn, 99), s->req_per_conn.max);
    fprintf(f, "<tr><th>lifetime</th><td>");
    for (int i = 0; i < 5; i++)
        fprintf(f, "%s%s %s", i ? ", " : "", pct_names[i],
                mt_fmt_ns(mt_hist_pct(&s->lifetime, pcts[i]), b1, sizeof(b1)));
    fprintf(f, "</td></tr>\n<tr><th>close reasons</th><td>");
    for (int r = 0; r < 16; r++)
        if (s->close_reason[r])
            fprintf(f, "%s %" PRIu64 "; ", r == 15 ? "unknown" : mt_close_reason(r),
                    s->close_reason[r]);
    fprintf(f, "</td></tr>\n<tr><th>timeouts</th><td>");
    for (int k = 0; k < 8; k++)
        if (s->timeout_kind[k])
            fprintf(f, "%s %" PRIu64 "; ", k == 7 ? "unknown" : mt_timeout_kind(k),
                    s->timeout_kind[k]);
    fprintf(f, "</td></tr>\n<tr><th>forced closes</th><td>");
    if (mt_class_present[MT_EV_EPOLL])
        fprintf(f, "%" PRIu64, s->forced_closes);
    else
        fprintf(f, "unknown (monkey:epoll not recorded)");
    fprintf(f, "</td></tr>\n</table>\n");

    fprintf(f, "<h2>Errors by site</h2>\n<table id=\"errors\"><tr><th>site</th><th>errno</th>"
               "<th>status</th><th>count</th></tr>\n");
    for (int k = 0; k < s->nerrkeys; k++) {
        const struct mt_errkey *e = &s->errkeys[k];
        fprintf(f, "<tr><td>%s</td><td>%s</td><td class=\"n\">%lld</td><td class=\"n\">%" PRIu64
                   "</td></tr>\n",
                mt_error_site(e->site), e->err ? mt_strerrno(e->err) : "-", (long long)e->status,
                e->count);
    }
    fprintf(f, "</table>\n");

    fprintf(f, "<h2>Load balance</h2>\n<table id=\"workers\"><tr><th>worker</th><th>accepted"
               "</th><th>requests</th><th>share</th><th>errors</th><th>active (last / max)</th>"
               "</tr>\n");
    for (int w = 0; w < s->nworkers; w++) {
        struct mt_worker *wk = &s->workers[w];
        if (wk->merged || (wk->id < 0 && !wk->requests && !wk->accepted))
            continue;
        fprintf(f, "<tr><td>");
        x(f, mt_worker_label(s, w, b2, sizeof(b2)));
        fprintf(f, "</td><td class=\"n\">%" PRIu64 "</td><td class=\"n\">%" PRIu64
                   "</td><td class=\"n\">%.1f%%</td><td class=\"n\">%" PRIu64 "</td>",
                wk->accepted, wk->requests,
                s->req_end ? 100.0 * (double)wk->requests / (double)s->req_end : 0.0, wk->errors);
        if (wk->have_stats)
            fprintf(f, "<td class=\"n\">%lld / %lld</td></tr>\n", (long long)wk->stats_active,
                    (long long)wk->stats_active_max);
        else
            fprintf(f, "<td>-</td></tr>\n");
    }
    fprintf(f, "</table>\n<p>Generated by monkey-trace.</p>\n</body>\n</html>\n");
}

int mt_cmd_report(struct mt_common *c)
{
    static struct mt_stats s;
    mt_stats_init(&s, true, 15);
    struct mt_sink sink = {.ctx = &s, .event = mt_stats_event, .discarded = mt_stats_discarded};
    if (mt_read(&c->ro, &sink, &s.rs) != 0)
        return 2;
    mt_stats_finish(&s);
    FILE *f = strcmp(c->out, "-") ? fopen(c->out, "w") : stdout;
    if (!f) {
        perror(c->out);
        return 2;
    }
    write_report(f, &s, c);
    if (f != stdout && fclose(f) != 0) {
        perror(c->out);
        return 2;
    }
    if (s.rs.discarded || s.rs.discarded_unknown)
        mt_discard_warning(stderr, &s.rs);
    mt_vpid_note(stderr);
    if (f != stdout)
        fprintf(stderr, "monkey-trace: wrote %s (%" PRIu64 " requests, %" PRIu64 " events)\n",
                c->out, s.req_end, s.rs.events);
    mt_stats_free(&s);
    return 0;
}
