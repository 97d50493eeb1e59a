/* Reading traces: a libbabeltrace2 graph src.ctf.fs (or src.ctf.lttng-live) ->
 * filter.utils.muxer -> a simple sink that decodes the `monkey` events into struct mt_event.
 *
 * Field values are read by member index, never by name: the indices are worked out once per
 * event class and cached (a table keyed by the class pointer), and so is what the trace and
 * the stream say about the process (hostname, vpid of per-process buffers). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <inttypes.h>
#include <ftw.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <babeltrace2/babeltrace.h>

#include "mt.h"
#include "../../src/trace/mk_trace_enums.h"

struct mt_proc *mt_procs;
uint32_t mt_nprocs;
bool mt_have_vpid;
bool mt_have_vtid;
bool mt_class_present[MT_EV_COUNT];
volatile int mt_interrupted;

/* ---- what we know per event class ---------------------------------------------------------- */

enum { SLOT_CONN, SLOT_FD, SLOT_I0, SLOT_I1, SLOT_I2, SLOT_I3, SLOT_I4, SLOT_S1, SLOT_S2,
       SLOT_COUNT };
enum { FT_NONE, FT_UNSIGNED, FT_SIGNED, FT_STRING };

struct field_map {
    const char *field;
    int slot;
};

struct kind_desc {
    const char *name; /* after "monkey:" */
    enum mt_kind kind;
    struct field_map fields[8];
};

static const struct kind_desc kinds[] = {
    {"epoll", MT_EV_EPOLL, {{"fd", SLOT_FD}, {"event", SLOT_S1}}},
    {"epoll_state", MT_EV_EPOLL_STATE, {{"fd", SLOT_FD}, {"event", SLOT_S1}}},
    {"scheduler", MT_EV_SCHEDULER, {{"fd", SLOT_FD}, {"event", SLOT_S1}}},
    {"conn_accept",
     MT_EV_CONN_ACCEPT,
     {{"conn_id", SLOT_CONN},
      {"fd", SLOT_FD},
      {"worker", SLOT_I0},
      {"peer", SLOT_S1},
      {"port", SLOT_I1}}},
    {"conn_close",
     MT_EV_CONN_CLOSE,
     {{"conn_id", SLOT_CONN},
      {"fd", SLOT_FD},
      {"reason", SLOT_I0},
      {"requests", SLOT_I1},
      {"bytes_in", SLOT_I2},
      {"bytes_out", SLOT_I3},
      {"lifetime_ns", SLOT_I4}}},
    {"conn_timeout", MT_EV_CONN_TIMEOUT, {{"conn_id", SLOT_CONN}, {"fd", SLOT_FD}, {"kind", SLOT_I0}}},
    {"request_begin",
     MT_EV_REQUEST_BEGIN,
     {{"conn_id", SLOT_CONN},
      {"req_seq", SLOT_I0},
      {"method", SLOT_I1},
      {"protocol", SLOT_I2},
      {"uri", SLOT_S1},
      {"host", SLOT_S2}}},
    {"request_end",
     MT_EV_REQUEST_END,
     {{"conn_id", SLOT_CONN},
      {"req_seq", SLOT_I0},
      {"status", SLOT_I1},
      {"bytes_sent", SLOT_I2},
      {"duration_ns", SLOT_I3},
      {"keepalive", SLOT_I4}}},
    {"request_header",
     MT_EV_REQUEST_HEADER,
     {{"conn_id", SLOT_CONN}, {"req_seq", SLOT_I0}, {"name", SLOT_S1}, {"value", SLOT_S2}}},
    {"error",
     MT_EV_ERROR,
     {{"conn_id", SLOT_CONN}, {"site", SLOT_I0}, {"errno", SLOT_I1}, {"status", SLOT_I2}}},
    {"worker_stats",
     MT_EV_WORKER_STATS,
     {{"worker", SLOT_I0},
      {"active", SLOT_I1},
      {"accepted", SLOT_I2},
      {"closed", SLOT_I3},
      {"requests", SLOT_I4}}},
};

struct cls_info {
    const bt_event_class *ec;
    enum mt_kind kind;
    const char *name;
    int16_t idx[SLOT_COUNT];
    uint8_t type[SLOT_COUNT];
    int16_t ctx_vpid, ctx_vtid, ctx_procname;
};

static struct cls_info *cls_tab;
static size_t cls_cap, cls_n;

static int field_type(const bt_field_class *fc)
{
    bt_field_class_type t = bt_field_class_get_type(fc);
    if (bt_field_class_type_is(t, BT_FIELD_CLASS_TYPE_UNSIGNED_INTEGER))
        return FT_UNSIGNED;
    if (bt_field_class_type_is(t, BT_FIELD_CLASS_TYPE_SIGNED_INTEGER))
        return FT_SIGNED;
    if (t == BT_FIELD_CLASS_TYPE_STRING)
        return FT_STRING;
    return FT_NONE;
}

static int16_t member_index(const bt_field_class *sfc, const char *name, uint8_t *type)
{
    if (!sfc || bt_field_class_get_type(sfc) != BT_FIELD_CLASS_TYPE_STRUCTURE)
        return -1;
    uint64_t n = bt_field_class_structure_get_member_count(sfc);
    for (uint64_t i = 0; i < n; i++) {
        const bt_field_class_structure_member *m =
            bt_field_class_structure_borrow_member_by_index_const(sfc, i);
        if (strcmp(bt_field_class_structure_member_get_name(m), name) == 0) {
            if (type)
                *type = (uint8_t)field_type(bt_field_class_structure_member_borrow_field_class_const(m));
            return (int16_t)i;
        }
    }
    return -1;
}

static enum mt_kind kind_of_name(const char *name, const struct kind_desc **desc)
{
    *desc = NULL;
    if (!name || strncmp(name, "monkey:", 7) != 0)
        return MT_EV_OTHER;
    for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++)
        if (strcmp(name + 7, kinds[k].name) == 0) {
            *desc = &kinds[k];
            return kinds[k].kind;
        }
    return MT_EV_UNKNOWN_MONKEY;
}

static void cls_fill(struct cls_info *ci, const bt_event_class *ec)
{
    const struct kind_desc *d;
    memset(ci, 0, sizeof(*ci));
    ci->ec = ec;
    ci->name = bt_event_class_get_name(ec);
    if (!ci->name)
        ci->name = "?";
    ci->kind = kind_of_name(ci->name, &d);
    for (int s = 0; s < SLOT_COUNT; s++)
        ci->idx[s] = -1;
    if (d) {
        const bt_field_class *pfc = bt_event_class_borrow_payload_field_class_const(ec);
        for (int f = 0; f < 8 && d->fields[f].field; f++) {
            int s = d->fields[f].slot;
            ci->idx[s] = member_index(pfc, d->fields[f].field, &ci->type[s]);
            if (ci->idx[s] >= 0 && ci->type[s] == FT_NONE)
                ci->idx[s] = -1;
        }
    }
    const bt_stream_class *sc = bt_event_class_borrow_stream_class_const(ec);
    const bt_field_class *cfc = bt_stream_class_borrow_event_common_context_field_class_const(sc);
    uint8_t t;
    ci->ctx_vpid = member_index(cfc, "vpid", &t);
    ci->ctx_vtid = member_index(cfc, "vtid", &t);
    ci->ctx_procname = member_index(cfc, "procname", &t);
}

static struct cls_info *cls_get(const bt_event_class *ec)
{
    if (cls_n * 2 >= cls_cap) {
        size_t ncap = cls_cap ? cls_cap * 2 : 64;
        struct cls_info *nt = mt_xcalloc(ncap, sizeof(*nt));
        for (size_t i = 0; i < cls_cap; i++)
            if (cls_tab[i].ec) {
                size_t j = mt_hash64((uintptr_t)cls_tab[i].ec) & (ncap - 1);
                while (nt[j].ec)
                    j = (j + 1) & (ncap - 1);
                nt[j] = cls_tab[i];
            }
        free(cls_tab);
        cls_tab = nt;
        cls_cap = ncap;
    }
    size_t j = mt_hash64((uintptr_t)ec) & (cls_cap - 1);
    while (cls_tab[j].ec) {
        if (cls_tab[j].ec == ec)
            return &cls_tab[j];
        j = (j + 1) & (cls_cap - 1);
    }
    cls_fill(&cls_tab[j], ec);
    cls_n++;
    return &cls_tab[j];
}

/* ---- what we know per stream (its trace's environment) ------------------------------------ */

struct stream_info {
    const bt_stream *s;
    char host[64];
    int64_t env_vpid; /* per-process buffers: the trace says which process; else -1 */
    char env_procname[32];
    /* the last process looked up for this stream */
    int64_t last_vpid;
    int32_t last_proc;
};

static struct stream_info *streams;
static size_t nstreams, capstreams;
static struct stream_info *last_stream;

static void env_str(const bt_trace *tr, const char *name, char *dst, size_t len)
{
    const bt_value *v = bt_trace_borrow_environment_entry_value_by_name_const(tr, name);
    dst[0] = 0;
    if (v && bt_value_get_type(v) == BT_VALUE_TYPE_STRING)
        snprintf(dst, len, "%s", bt_value_string_get(v));
}

static struct stream_info *stream_get(const bt_stream *s)
{
    if (last_stream && last_stream->s == s)
        return last_stream;
    for (size_t i = 0; i < nstreams; i++)
        if (streams[i].s == s)
            return last_stream = &streams[i];
    if (nstreams == capstreams) {
        capstreams = capstreams ? capstreams * 2 : 32;
        streams = mt_xrealloc(streams, capstreams * sizeof(*streams));
    }
    struct stream_info *si = &streams[nstreams++];
    memset(si, 0, sizeof(*si));
    si->s = s;
    const bt_trace *tr = bt_stream_borrow_trace_const(s);
    env_str(tr, "hostname", si->host, sizeof(si->host));
    env_str(tr, "procname", si->env_procname, sizeof(si->env_procname));
    si->env_vpid = -1;
    const bt_value *v = bt_trace_borrow_environment_entry_value_by_name_const(tr, "vpid");
    if (v && bt_value_get_type(v) == BT_VALUE_TYPE_SIGNED_INTEGER)
        si->env_vpid = bt_value_integer_signed_get(v);
    si->last_proc = -1;
    return last_stream = si;
}

static uint32_t proc_get(const char *host, int64_t vpid)
{
    for (uint32_t i = 0; i < mt_nprocs; i++)
        if (mt_procs[i].vpid == vpid && strcmp(mt_procs[i].host, host) == 0)
            return i;
    mt_procs = mt_xrealloc(mt_procs, (mt_nprocs + 1) * sizeof(*mt_procs));
    struct mt_proc *p = &mt_procs[mt_nprocs];
    memset(p, 0, sizeof(*p));
    snprintf(p->host, sizeof(p->host), "%s", host);
    p->vpid = vpid;
    return mt_nprocs++;
}

bool mt_multi_host(void)
{
    for (uint32_t i = 1; i < mt_nprocs; i++)
        if (strcmp(mt_procs[i].host, mt_procs[0].host) != 0)
            return true;
    return false;
}

const char *mt_proc_label(uint32_t proc, char *buf, size_t len)
{
    if (proc >= mt_nprocs) {
        snprintf(buf, len, "?");
        return buf;
    }
    char pid[24] = "?"; /* no vpid context: processes are not told apart */
    if (mt_have_vpid)
        snprintf(pid, sizeof(pid), "%lld", (long long)mt_procs[proc].vpid);
    if (mt_multi_host())
        snprintf(buf, len, "%s/%s", mt_procs[proc].host, pid);
    else
        snprintf(buf, len, "%s", pid);
    return buf;
}

void mt_vpid_note(FILE *f)
{
    if (!mt_have_vpid)
        fprintf(f, "note: no vpid context in the trace: several servers would be mixed up "
                   "(lttng add-context -u -t vpid -t vtid)\n");
}

const char *mt_filter_desc(const struct mt_read_opts *o, char *buf, size_t len)
{
    char pid[40] = "";
    if (o->pid >= 0)
        snprintf(pid, sizeof(pid), " --pid %lld", (long long)o->pid);
    snprintf(buf, len, "%s%s%.*s", pid, o->host ? " --host " : "", o->host ? 64 : 0,
             o->host ? o->host : "");
    return buf;
}

const char *mt_monkey_desc(const struct mt_read_opts *o, const struct mt_read_stats *st,
                           char *buf, size_t len)
{
    char flt[128];
    if (o->pid < 0 && !o->host)
        snprintf(buf, len, "%" PRIu64 " monkey", st->monkey_events);
    else
        snprintf(buf, len, "%" PRIu64 " of the %" PRIu64 " monkey:* events match%s",
                 st->monkey_events, st->monkey_events + st->monkey_filtered,
                 mt_filter_desc(o, flt, sizeof(flt)));
    return buf;
}

void mt_no_events_note(FILE *f, const struct mt_read_opts *o, const struct mt_read_stats *st)
{
    char flt[128];
    if (!st->monkey_filtered) {
        fprintf(f, "no monkey:* events in the trace (was the server traced? lttng "
                   "enable-event -u 'monkey:*')\n");
        return;
    }
    fprintf(f, "no monkey:* event matches%s: the trace holds %" PRIu64 " monkey:* events, all "
               "of other processes or hosts (`monkey-trace summary` without the filter lists "
               "them)\n",
            mt_filter_desc(o, flt, sizeof(flt)), st->monkey_filtered);
}

/* ---- enum labels: the server's own lists (src/trace/mk_trace_enums.h) ------------------------ */

#define MT__LABEL(name, text) text,
const char *const mt_close_reason_names[] = {MK_CLOSE_REASONS(MT__LABEL)};
const char *const mt_timeout_kind_names[] = {MK_TIMEOUT_KINDS(MT__LABEL)};
const char *const mt_error_site_names[] = {MK_ERROR_SITES(MT__LABEL)};
static const char *const method_names[] = {MK_METHODS(MT__LABEL)};
static const char *const protocol_names[] = {MK_PROTOCOLS(MT__LABEL)};
const int mt_close_reason_count = MK_CLOSE_REASON_COUNT;
const int mt_timeout_kind_count = MK_TIMEOUT_KIND_COUNT;
const int mt_error_site_count = MK_ESITE_COUNT;

static const char *label(const char *const *names, int n, int64_t v)
{
    static char buf[8][24];
    static int k;
    if (v >= 0 && v < n)
        return names[v];
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof(buf[k]), "?%lld", (long long)v);
    return buf[k];
}

const char *mt_close_reason(int64_t v) { return label(mt_close_reason_names, MK_CLOSE_REASON_COUNT, v); }
const char *mt_timeout_kind(int64_t v) { return label(mt_timeout_kind_names, MK_TIMEOUT_KIND_COUNT, v); }
const char *mt_error_site(int64_t v) { return label(mt_error_site_names, MK_ESITE_COUNT, v); }
const char *mt_method(int64_t v) { return label(method_names, MK_METHOD_COUNT, v); }
const char *mt_protocol(int64_t v) { return label(protocol_names, MK_PROTO_COUNT, v); }

/* ---- seed event text -> code ------------------------------------------------------------------ */

static enum mt_seed seed_code(const char *s)
{
    switch (s[0]) {
    case 'E':
        if (!strcmp(s, "EPOLLIN"))
            return MT_SEED_EPOLLIN;
        if (!strcmp(s, "EPOLLOUT"))
            return MT_SEED_EPOLLOUT;
        if (!strcmp(s, "EPOLLRDHUP"))
            return MT_SEED_EPOLLRDHUP;
        if (!strcmp(s, "EPOLLHUP"))
            return MT_SEED_EPOLLHUP;
        if (!strcmp(s, "EPOLLERR"))
            return MT_SEED_EPOLLERR;
        break;
    case 'T':
        if (!strcmp(s, "TIMEOUT CHECK"))
            return MT_SEED_TIMEOUT_CHECK;
        if (!strcmp(s, "TIMEOUT_REQ_INCOMPLETE"))
            return MT_SEED_TIMEOUT_REQ_INCOMPLETE;
        if (!strcmp(s, "TIMEOUT_CONN_PENDING"))
            return MT_SEED_TIMEOUT_CONN_PENDING;
        break;
    case 'F':
        if (!strcmp(s, "FORCED CLOSE"))
            return MT_SEED_FORCED_CLOSE;
        break;
    case 'G':
        if (!strcmp(s, "GET"))
            return MT_SEED_GET;
        if (!strcmp(s, "GET: NOT FOUND"))
            return MT_SEED_GET_NOT_FOUND;
        if (!strcmp(s, "GET_CONNECTION"))
            return MT_SEED_GET_CONNECTION;
        if (!strcmp(s, "GET_FAILED"))
            return MT_SEED_GET_FAILED;
        break;
    case 'S':
        if (!strcmp(s, "SET: NEW"))
            return MT_SEED_SET_NEW;
        if (!strcmp(s, "SET: CHANGE"))
            return MT_SEED_SET_CHANGE;
        break;
    case 'D':
        if (!strcmp(s, "DELETE"))
            return MT_SEED_DELETE;
        if (!strcmp(s, "DELETE: NOT FOUND"))
            return MT_SEED_DELETE_NOT_FOUND;
        if (!strcmp(s, "DELETE_CLIENT"))
            return MT_SEED_DELETE_CLIENT;
        break;
    case 'A':
        if (!strcmp(s, "ADD_CLIENT") || !strcmp(s, "ADD_CLIENT_REUSEPORT"))
            return MT_SEED_ADD_CLIENT;
        break;
    case 'R':
        if (!strcmp(s, "REGISTERED"))
            return MT_SEED_REGISTERED;
        break;
    case 'O':
        if (!strcmp(s, "OVER_CAPACITY"))
            return MT_SEED_OVER_CAPACITY;
        break;
    }
    return MT_SEED_OTHER;
}

/* ---- the sink ---------------------------------------------------------------------------------- */

struct reader {
    struct mt_sink *sink;
    const struct mt_read_opts *o;
    struct mt_read_stats *st;
    bt_message_iterator *it;
};

static inline int64_t get_int(const bt_field *sf, int idx, int type)
{
    const bt_field *f = bt_field_structure_borrow_member_field_by_index_const(sf, (uint64_t)idx);
    if (type == FT_UNSIGNED)
        return (int64_t)bt_field_integer_unsigned_get_value(f);
    return bt_field_integer_signed_get_value(f);
}

static void mark_stream_class(const bt_stream *s)
{
    const bt_stream_class *sc = bt_stream_borrow_class_const(s);
    uint64_t n = bt_stream_class_get_event_class_count(sc);
    for (uint64_t i = 0; i < n; i++) {
        const bt_event_class *ec = bt_stream_class_borrow_event_class_by_index_const(sc, i);
        struct cls_info *ci = cls_get(ec);
        mt_class_present[ci->kind] = true;
        /* The contexts recorded with the monkey events, known even when none was fired
         * (an empty session is not one without vpid). */
        if (ci->kind != MT_EV_OTHER && ci->ctx_vpid >= 0)
            mt_have_vpid = true;
        if (ci->kind != MT_EV_OTHER && ci->ctx_vtid >= 0)
            mt_have_vtid = true;
    }
}

static void handle_event(struct reader *r, const bt_message *msg)
{
    const bt_event *e = bt_message_event_borrow_event_const(msg);
    const bt_event_class *ec = bt_event_borrow_class_const(e);
    struct cls_info *ci = cls_get(ec);
    struct mt_event ev;
    int64_t ts = 0;

    r->st->events++;
    if (ci->kind == MT_EV_OTHER)
        return;
    if (!mt_class_present[ci->kind])
        mt_class_present[ci->kind] = true;

    const bt_clock_snapshot *cs = bt_message_event_borrow_default_clock_snapshot_const(msg);
    bt_clock_snapshot_get_ns_from_origin(cs, &ts);

    /* which process */
    const bt_stream *s = bt_event_borrow_stream_const(e);
    struct stream_info *si = stream_get(s);
    int64_t vpid = si->env_vpid >= 0 ? si->env_vpid : 0;
    int64_t vtid = -1;
    const bt_field *cf = NULL;
    if (ci->ctx_vpid >= 0 || ci->ctx_vtid >= 0) {
        cf = bt_event_borrow_common_context_field_const(e);
        if (ci->ctx_vpid >= 0) {
            vpid = get_int(cf, ci->ctx_vpid, FT_SIGNED);
            mt_have_vpid = true;
        }
        if (ci->ctx_vtid >= 0) {
            vtid = get_int(cf, ci->ctx_vtid, FT_SIGNED);
            mt_have_vtid = true;
        }
    }
    if (si->env_vpid >= 0)
        mt_have_vpid = true;
    if ((r->o->pid >= 0 && vpid != r->o->pid) || (r->o->host && strcmp(r->o->host, si->host))) {
        r->st->monkey_filtered++;
        return;
    }
    if (si->last_proc < 0 || si->last_vpid != vpid) {
        si->last_proc = (int32_t)proc_get(si->host, vpid);
        si->last_vpid = vpid;
        struct mt_proc *p = &mt_procs[si->last_proc];
        if (!p->procname[0]) {
            if (ci->ctx_procname >= 0) {
                if (!cf)
                    cf = bt_event_borrow_common_context_field_const(e);
                const bt_field *pf = bt_field_structure_borrow_member_field_by_index_const(
                    cf, (uint64_t)ci->ctx_procname);
                snprintf(p->procname, sizeof(p->procname), "%s", bt_field_string_get_value(pf));
            } else if (si->env_procname[0]) {
                snprintf(p->procname, sizeof(p->procname), "%s", si->env_procname);
            }
        }
    }

    ev.kind = ci->kind;
    ev.seed = MT_SEED_OTHER;
    ev.name = ci->name;
    ev.ts = ts;
    ev.proc = (uint32_t)si->last_proc;
    ev.vtid = vtid;
    ev.conn_id = 0;
    ev.fd = 0;
    ev.i[0] = ev.i[1] = ev.i[2] = ev.i[3] = ev.i[4] = 0;
    ev.s1 = ev.s2 = "";
    ev.l1 = ev.l2 = 0;

    const bt_field *pf = bt_event_borrow_payload_field_const(e);
    if (pf) {
        for (int slot = 0; slot < SLOT_COUNT; slot++) {
            int idx = ci->idx[slot];
            if (idx < 0)
                continue;
            if (ci->type[slot] == FT_STRING) {
                const bt_field *f =
                    bt_field_structure_borrow_member_field_by_index_const(pf, (uint64_t)idx);
                const char *v = bt_field_string_get_value(f);
                size_t l = bt_field_string_get_length(f);
                if (slot == SLOT_S1) {
                    ev.s1 = v;
                    ev.l1 = l;
                } else {
                    ev.s2 = v;
                    ev.l2 = l;
                }
                continue;
            }
            int64_t v = get_int(pf, idx, ci->type[slot]);
            switch (slot) {
            case SLOT_CONN:
                ev.conn_id = (uint64_t)v;
                break;
            case SLOT_FD:
                ev.fd = v;
                break;
            default:
                ev.i[slot - SLOT_I0] = v;
                break;
            }
        }
    }
    if (ev.kind == MT_EV_EPOLL || ev.kind == MT_EV_EPOLL_STATE || ev.kind == MT_EV_SCHEDULER)
        ev.seed = seed_code(ev.s1);

    r->st->monkey_events++;
    if (r->st->first_ts == 0 || ts < r->st->first_ts)
        r->st->first_ts = ts;
    if (ts > r->st->last_ts)
        r->st->last_ts = ts;
    r->sink->event(r->sink->ctx, &ev);
}

/* Whether the --pid/--host filters leave out every event stream s can hold: a stream of
 * another host's trace, or per-process buffers of another process.  Per-user buffers (no
 * vpid in the trace's environment) hold the events of every process of the user: their
 * discards are kept under --pid, and counted as shared. */
static bool stream_excluded(struct reader *r, const bt_stream *s)
{
    const struct mt_read_opts *o = r->o;
    if (o->pid < 0 && !o->host)
        return false;
    struct stream_info *si = stream_get(s);
    if (o->host && strcmp(o->host, si->host) != 0)
        return true;
    if (o->pid >= 0 && si->env_vpid >= 0 && si->env_vpid != o->pid)
        return true;
    if (o->pid >= 0 && si->env_vpid < 0)
        r->st->discarded_shared_msgs++;
    return false;
}

static void handle_discarded(struct reader *r, const bt_message *msg)
{
    uint64_t count = 0;
    int64_t ts = 0;
    const bt_stream *s = bt_message_discarded_events_borrow_stream_const(msg);
    const bt_stream_class *sc = bt_stream_borrow_class_const(s);

    if (stream_excluded(r, s)) {
        r->st->discarded_excluded_msgs++;
        if (bt_message_discarded_events_get_count(msg, &count) ==
            BT_PROPERTY_AVAILABILITY_AVAILABLE)
            r->st->discarded_excluded += count;
        return;
    }
    if (bt_stream_class_discarded_events_have_default_clock_snapshots(sc)) {
        const bt_clock_snapshot *cs =
            bt_message_discarded_events_borrow_end_default_clock_snapshot_const(msg);
        bt_clock_snapshot_get_ns_from_origin(cs, &ts);
    }
    r->st->discarded_msgs++;
    if (bt_message_discarded_events_get_count(msg, &count) == BT_PROPERTY_AVAILABILITY_AVAILABLE)
        r->st->discarded += count;
    else
        r->st->discarded_unknown++;
    if (r->sink->discarded)
        r->sink->discarded(r->sink->ctx, count, ts);
}

/* A channel in overwrite mode (`lttng enable-channel --overwrite`, snapshot sessions) loses
 * whole packets, not counted events: babeltrace2 reports them as discarded packets.  Their
 * events are gone just the same, in an unknown number. */
static void handle_discarded_packets(struct reader *r, const bt_message *msg)
{
    uint64_t count = 0;
    int64_t ts = 0;
    const bt_stream *s = bt_message_discarded_packets_borrow_stream_const(msg);
    const bt_stream_class *sc = bt_stream_borrow_class_const(s);

    if (stream_excluded(r, s)) {
        r->st->discarded_excluded_msgs++;
        return;
    }
    if (bt_stream_class_discarded_packets_have_default_clock_snapshots(sc)) {
        const bt_clock_snapshot *cs =
            bt_message_discarded_packets_borrow_end_default_clock_snapshot_const(msg);
        bt_clock_snapshot_get_ns_from_origin(cs, &ts);
    }
    r->st->discarded_msgs++;
    r->st->discarded_unknown++;
    if (bt_message_discarded_packets_get_count(msg, &count) == BT_PROPERTY_AVAILABILITY_AVAILABLE)
        r->st->discarded_packets += count;
    else
        r->st->discarded_packets++;
    if (r->sink->discarded)
        r->sink->discarded(r->sink->ctx, 0, ts);
}

static bt_graph_simple_sink_component_initialize_func_status sink_init(bt_message_iterator *it,
                                                                       void *data)
{
    struct reader *r = data;
    r->it = it;
    return BT_GRAPH_SIMPLE_SINK_COMPONENT_INITIALIZE_FUNC_STATUS_OK;
}

static bt_graph_simple_sink_component_consume_func_status sink_consume(bt_message_iterator *it,
                                                                       void *data)
{
    struct reader *r = data;
    bt_message_array_const msgs;
    uint64_t count;

    if (mt_interrupted)
        return BT_GRAPH_SIMPLE_SINK_COMPONENT_CONSUME_FUNC_STATUS_END;
    switch (bt_message_iterator_next(it, &msgs, &count)) {
    case BT_MESSAGE_ITERATOR_NEXT_STATUS_OK:
        break;
    case BT_MESSAGE_ITERATOR_NEXT_STATUS_END:
        return BT_GRAPH_SIMPLE_SINK_COMPONENT_CONSUME_FUNC_STATUS_END;
    case BT_MESSAGE_ITERATOR_NEXT_STATUS_AGAIN:
        return BT_GRAPH_SIMPLE_SINK_COMPONENT_CONSUME_FUNC_STATUS_AGAIN;
    case BT_MESSAGE_ITERATOR_NEXT_STATUS_MEMORY_ERROR:
        return BT_GRAPH_SIMPLE_SINK_COMPONENT_CONSUME_FUNC_STATUS_MEMORY_ERROR;
    default:
        return BT_GRAPH_SIMPLE_SINK_COMPONENT_CONSUME_FUNC_STATUS_ERROR;
    }
    for (uint64_t i = 0; i < count; i++) {
        const bt_message *m = msgs[i];
        switch (bt_message_get_type(m)) {
        case BT_MESSAGE_TYPE_EVENT:
            handle_event(r, m);
            break;
        case BT_MESSAGE_TYPE_DISCARDED_EVENTS:
            handle_discarded(r, m);
            break;
        case BT_MESSAGE_TYPE_DISCARDED_PACKETS:
            handle_discarded_packets(r, m);
            break;
        case BT_MESSAGE_TYPE_STREAM_BEGINNING:
            mark_stream_class(bt_message_stream_beginning_borrow_stream_const(m));
            break;
        default:
            break;
        }
        bt_message_put_ref(m);
    }
    r->st->messages += count;
    return BT_GRAPH_SIMPLE_SINK_COMPONENT_CONSUME_FUNC_STATUS_OK;
}

/* ---- finding the trace directories -------------------------------------------------------------- */

static char **found;
static int nfound;

static int walk_cb(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb;
    (void)ftw;
    if (type == FTW_F) {
        const char *base = strrchr(path, '/');
        base = base ? base + 1 : path;
        if (strcmp(base, "metadata") == 0) {
            char *dir = mt_xstrdup(path);
            char *slash = strrchr(dir, '/');
            if (slash)
                *slash = 0;
            else
                strcpy(dir, ".");
            found = mt_xrealloc(found, (size_t)(nfound + 1) * sizeof(*found));
            found[nfound++] = dir;
        }
    }
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* ---- errors ---------------------------------------------------------------------------------- */

static void print_bt_error(const char *what)
{
    const bt_error *err = bt_current_thread_take_error();
    fprintf(stderr, "monkey-trace: %s\n", what);
    if (!err)
        return;
    uint64_t n = bt_error_get_cause_count(err);
    for (uint64_t i = 0; i < n && i < 6; i++) {
        const bt_error_cause *c = bt_error_borrow_cause_by_index(err, i);
        fprintf(stderr, "  %s: %s\n", bt_error_cause_get_module_name(c),
                bt_error_cause_get_message(c));
    }
    bt_error_release(err);
}

static const bt_plugin *find_plugin(const char *name)
{
    const bt_plugin *p = NULL;
    if (bt_plugin_find(name, BT_TRUE, BT_TRUE, BT_TRUE, BT_TRUE, BT_TRUE, &p) !=
            BT_PLUGIN_FIND_STATUS_OK ||
        !p) {
        print_bt_error("cannot load the babeltrace2 plugin");
        fprintf(stderr, "monkey-trace: the babeltrace2 plugin '%s' is missing (install "
                        "babeltrace2 / libbabeltrace2-0)\n", name);
        return NULL;
    }
    return p;
}

static void on_signal(int sig)
{
    (void)sig;
    mt_interrupted = 1;
}

/* ---- the graph -------------------------------------------------------------------------------- */

int mt_read(const struct mt_read_opts *o, struct mt_sink *sink, struct mt_read_stats *st)
{
    struct reader r = {.sink = sink, .o = o, .st = st};
    const bt_plugin *ctf = NULL, *utils = NULL;
    bt_graph *g = NULL;
    bt_value *params = NULL, *inputs = NULL;
    const bt_component_source **srcs = NULL;
    const bt_component_filter *mux = NULL;
    const bt_component_sink *snk = NULL;
    int ret = -1;
    int64_t t_start = mt_now_ns();
    struct rusage ru0, ru1;
    getrusage(RUSAGE_SELF, &ru0);

    memset(st, 0, sizeof(*st));
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    inputs = bt_value_array_create();
    if (o->live) {
        bt_value_array_append_string_element(inputs, o->inputs[0]);
    } else {
        for (int i = 0; i < o->ninputs; i++) {
            struct stat sb;
            if (stat(o->inputs[i], &sb) != 0) {
                fprintf(stderr, "monkey-trace: %s: %s\n", o->inputs[i], strerror(errno));
                goto out;
            }
            /* Walk the canonical path: a symlink given on the command line (a `latest`
             * link to a session's output) is followed, and the same trace named twice
             * (`T` and `./T/`, or `T` and `T/ust`) gives the same directories, read once.
             * Below it FTW_PHYS: links inside the tree are not followed. */
            char *canon = realpath(o->inputs[i], NULL);
            int before = nfound;
            nftw(canon ? canon : o->inputs[i], walk_cb, 32, FTW_PHYS);
            free(canon);
            if (nfound == before) {
                fprintf(stderr, "monkey-trace: %s: no CTF trace here (no file named `metadata` "
                                "under it)\n", o->inputs[i]);
                goto out;
            }
        }
        qsort(found, (size_t)nfound, sizeof(*found), cmp_str);
        for (int i = 0; i < nfound; i++)
            if (i == 0 || strcmp(found[i], found[i - 1]) != 0) {
                bt_value_array_append_string_element(inputs, found[i]);
                st->ntraces++;
            }
    }

    ctf = find_plugin("ctf");
    utils = find_plugin("utils");
    if (!ctf || !utils)
        goto out;

    g = bt_graph_create(0);
    const bt_component_class_source *src_cls = bt_plugin_borrow_source_component_class_by_name_const(
        ctf, o->live ? "lttng-live" : "fs");
    if (!src_cls) {
        fprintf(stderr, "monkey-trace: babeltrace2's ctf plugin has no %s source\n",
                o->live ? "lttng-live" : "fs");
        goto out;
    }
    /* One source per trace: src.ctf.fs merges the inputs it is given only when they are
     * parts of one trace (same UUID). */
    uint64_t nsrc = o->live ? 1 : bt_value_array_get_length(inputs);
    srcs = mt_xcalloc(nsrc, sizeof(*srcs));
    for (uint64_t k = 0; k < nsrc; k++) {
        char name[32];
        params = bt_value_map_create();
        bt_value *one = bt_value_array_create();
        bt_value_array_append_string_element(
            one, bt_value_string_get(bt_value_array_borrow_element_by_index_const(inputs, k)));
        bt_value_map_insert_entry(params, "inputs", one);
        bt_value_put_ref(one);
        if (o->live) {
            bt_value_map_insert_string_entry(params, "session-not-found-action",
                                             o->live_wait ? "continue" : "end");
        } else {
            /* Traces from several hosts: correlate their clocks through the Unix epoch
             * (what `babeltrace2 --clock-force-correlate` does), so the muxer can merge
             * them. */
            bt_value_map_insert_bool_entry(params, "force-clock-class-origin-unix-epoch",
                                           BT_TRUE);
        }
        snprintf(name, sizeof(name), "src%llu", (unsigned long long)k);
        if (bt_graph_add_source_component(g, src_cls, name, params, BT_LOGGING_LEVEL_ERROR,
                                          &srcs[k]) != BT_GRAPH_ADD_COMPONENT_STATUS_OK) {
            char what[4200];
            snprintf(what, sizeof(what), o->live ? "cannot connect to the live session %s"
                                                 : "cannot open the trace %s",
                     bt_value_string_get(bt_value_array_borrow_element_by_index_const(inputs, k)));
            print_bt_error(what);
            goto out;
        }
        bt_value_put_ref(params);
        params = NULL;
    }
    const bt_component_class_filter *mux_cls =
        bt_plugin_borrow_filter_component_class_by_name_const(utils, "muxer");
    if (!mux_cls || bt_graph_add_filter_component(g, mux_cls, "mux", NULL,
                                                  BT_LOGGING_LEVEL_ERROR, &mux) !=
                        BT_GRAPH_ADD_COMPONENT_STATUS_OK) {
        print_bt_error("cannot create the muxer");
        goto out;
    }
    if (bt_graph_add_simple_sink_component(g, "sink", sink_init, sink_consume, NULL, &r, &snk) !=
        BT_GRAPH_ADD_COMPONENT_STATUS_OK) {
        print_bt_error("cannot create the sink");
        goto out;
    }
    for (uint64_t k = 0; k < nsrc; k++) {
        uint64_t nout = bt_component_source_get_output_port_count(srcs[k]);
        for (uint64_t i = 0; i < nout; i++) {
            const bt_port_output *op =
                bt_component_source_borrow_output_port_by_index_const(srcs[k], i);
            uint64_t nin = bt_component_filter_get_input_port_count(mux);
            const bt_port_input *ip =
                bt_component_filter_borrow_input_port_by_index_const(mux, nin - 1);
            if (bt_graph_connect_ports(g, op, ip, NULL) != BT_GRAPH_CONNECT_PORTS_STATUS_OK) {
                print_bt_error("cannot connect the source to the muxer");
                goto out;
            }
        }
    }
    if (bt_graph_connect_ports(g, bt_component_filter_borrow_output_port_by_index_const(mux, 0),
                               bt_component_sink_borrow_input_port_by_index_const(snk, 0),
                               NULL) != BT_GRAPH_CONNECT_PORTS_STATUS_OK) {
        print_bt_error("cannot connect the muxer to the sink");
        goto out;
    }

    for (;;) {
        bt_graph_run_once_status rs = bt_graph_run_once(g);
        if (rs == BT_GRAPH_RUN_ONCE_STATUS_END)
            break;
        if (mt_interrupted)
            break;
        if (rs == BT_GRAPH_RUN_ONCE_STATUS_AGAIN) {
            if (sink->tick)
                sink->tick(sink->ctx, mt_now_ns());
            struct timespec ts = {0, 20 * 1000 * 1000};
            nanosleep(&ts, NULL);
            continue;
        }
        if (rs != BT_GRAPH_RUN_ONCE_STATUS_OK) {
            print_bt_error("error while reading the traces");
            goto out;
        }
        if (o->live && sink->tick)
            sink->tick(sink->ctx, mt_now_ns());
    }
    ret = 0;
out:
    st->seconds = (double)(mt_now_ns() - t_start) / 1e9;
    getrusage(RUSAGE_SELF, &ru1);
    st->cpu_seconds = (double)(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec) +
                      (double)(ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) +
                      (double)(ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec) / 1e6 +
                      (double)(ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec) / 1e6;
    bt_value_put_ref(params);
    bt_value_put_ref(inputs);
    bt_graph_put_ref(g);
    free(srcs);
    bt_plugin_put_ref(ctf);
    bt_plugin_put_ref(utils);
    for (int i = 0; i < nfound; i++)
        free(found[i]);
    free(found);
    found = NULL;
    nfound = 0;
    /* The graph is gone: forget the class and stream pointers (a second read starts afresh,
     * the process table stays so indices remain valid across reads). */
    free(cls_tab);
    cls_tab = NULL;
    cls_cap = cls_n = 0;
    free(streams);
    streams = NULL;
    nstreams = capstreams = 0;
    last_stream = NULL;
    return ret;
}
