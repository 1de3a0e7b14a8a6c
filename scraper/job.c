/* scraper/job.c: one scrape config (a job) at run time: its compiled
 * relabel configs, its discovery providers (static_configs, file_sd,
 * kubernetes) and the targets they currently yield.
 *
 * Targets come from groups the way Prometheus makes them: for every target
 * of every group, the group's labels are merged under the target's
 * (discovered labels), then relabel_populate adds the job's defaults,
 * relabels and checks the result. A kept target is identified by its key:
 * the job name and its whole label set after relabeling (__address__,
 * __scheme__, __metrics_path__ and __param_* included), so two groups
 * yielding the same target scrape it once, and a target that survives a
 * rediscovery (or a reload) keeps its state. A dropped or unusable target is
 * remembered with its discovered labels (and the reason) for the targets
 * API.
 *
 * job_sync runs when a provider says its groups changed: it claims the
 * existing targets whose keys are found again, creates the new ones and
 * frees the rest (cancelling their requests). Everything runs in the loop
 * thread under the manager's lock, except job_new, which the reloading
 * thread calls before the configuration switches (so a bad file_sd pattern
 * or Kubernetes setting refuses the reload). */
#include "scraper/scrape_int.h"

#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/fsio.h"
#include "base/hmap.h"
#include "base/labels.h"
#include "base/log.h"
#include "base/timefmt.h"
#include "discovery/file_sd.h"
#include "discovery/kubernetes.h"
#include "discovery/static.h"
#include "scraper/config.h"

/* ---- Building a job ----------------------------------------------------- */

static enum kb_status job_relabel(struct scrape_job *j, struct kb_err *err)
{
    const struct scrape_config_job *c = j->cfg;
    j->relabel = kb_calloc(c->n_relabel_configs + 1, sizeof(*j->relabel));
    for (size_t i = 0; i < c->n_relabel_configs; i++) {
        const struct scrape_config_relabel *r = &c->relabel_configs[i];
        struct relabel_spec spec = {
            .source_labels = r->source_labels,
            .nsource_labels = r->n_source_labels,
            .separator = r->separator,
            .target_label = r->target_label,
            .regex = r->regex,
            .modulus = r->modulus,
            .replacement = r->replacement,
        };
        enum kb_status st = relabel_action_parse(
            scrape_config_action_name(r->action), &spec.action, err);
        if (st == KB_OK)
            st = relabel_config_init(&j->relabel[i], &spec, err);
        if (st != KB_OK)
            return kb_err_prefix(err, "relabel_configs[%zu]", i);
        j->n_relabel = i + 1;
    }
    size_t n = 0;
    for (size_t i = 0; i < c->n_params; i++)
        n += c->params[i].n_values;
    j->params = kb_calloc(n + 1, sizeof(*j->params));
    for (size_t i = 0; i < c->n_params; i++)
        for (size_t k = 0; k < c->params[i].n_values; k++)
            j->params[j->n_params++] = (struct relabel_param){
                c->params[i].name, c->params[i].values[k]};
    return KB_OK;
}

static enum kb_status job_static(struct scrape_job *j, struct kb_err *err)
{
    const struct scrape_config_job *c = j->cfg;
    size_t n = c->n_static_configs, n_labels = 0;
    for (size_t i = 0; i < n; i++)
        n_labels += labels_count(c->static_configs[i].labels);
    struct disc_static_config *cfgs = kb_calloc(n + 1, sizeof(*cfgs));
    const char **names = kb_calloc(n_labels + 1, sizeof(*names));
    const char **values = kb_calloc(n_labels + 1, sizeof(*values));
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        const struct scrape_config_static *s = &c->static_configs[i];
        cfgs[i].targets = s->targets;
        cfgs[i].n_targets = s->n_targets;
        cfgs[i].label_names = names + at;
        cfgs[i].label_values = values + at;
        cfgs[i].n_labels = labels_count(s->labels);
        for (size_t k = 0; k < cfgs[i].n_labels; k++, at++) {
            names[at] = labels_at(s->labels, k)->name;
            values[at] = labels_at(s->labels, k)->value;
        }
    }
    enum kb_status st = disc_static_groups(cfgs, n, &j->static_groups, err);
    free(cfgs);
    free(names);
    free(values);
    return st;
}

static enum kb_status job_file_sd(struct scrape_job *j, const char *dir,
                                  struct kb_err *err)
{
    const struct scrape_config_job *c = j->cfg;
    j->file_sd = kb_calloc(c->n_file_sd_configs + 1, sizeof(*j->file_sd));
    for (size_t i = 0; i < c->n_file_sd_configs; i++) {
        const struct scrape_config_file_sd *f = &c->file_sd_configs[i];
        char(*paths)[KB_PATH_MAX] = kb_calloc(f->n_files + 1, KB_PATH_MAX);
        const char **pats = kb_calloc(f->n_files + 1, sizeof(*pats));
        enum kb_status st = KB_OK;
        for (size_t k = 0; k < f->n_files && st == KB_OK; k++) {
            if (f->files[k][0] == '/' || !dir || !dir[0])
                pats[k] = f->files[k];
            else if ((st = kb_path_join(paths[k], dir, f->files[k], err)) ==
                     KB_OK)
                pats[k] = paths[k];
        }
        if (st == KB_OK)
            st = disc_file_sd_new(pats, f->n_files, f->refresh_interval_ms,
                                  &j->file_sd[i], err);
        free(paths);
        free(pats);
        if (st != KB_OK)
            return kb_err_prefix(err, "file_sd_configs[%zu]", i);
        j->n_file_sd = i + 1;
    }
    return KB_OK;
}

static enum kb_status job_k8s(struct scrape_job *j, struct kb_err *err)
{
    const struct scrape_config_job *c = j->cfg;
    j->k8s = kb_calloc(c->n_kubernetes_sd_configs + 1, sizeof(*j->k8s));
    for (size_t i = 0; i < c->n_kubernetes_sd_configs; i++) {
        const struct scrape_config_k8s_sd *k = &c->kubernetes_sd_configs[i];
        struct disc_k8s_config kc = {
            .api_server = k->api_server,
            .bearer_token_file = k->bearer_token_file,
            .ca_file = k->ca_file,
            .cert_file = k->cert_file,
            .key_file = k->key_file,
            .server_name = k->server_name,
            .insecure_skip_verify = k->insecure_skip_verify,
            .namespaces = k->namespaces,
            .n_namespaces = k->n_namespaces,
        };
        for (size_t s = 0; s < k->n_selectors; s++) {
            if (strcmp(k->selectors[s].role, "pod") != 0)
                continue;
            kc.label_selector = k->selectors[s].label;
            kc.field_selector = k->selectors[s].field;
        }
        enum kb_status st = disc_k8s_new(&kc, &j->k8s[i], err);
        if (st != KB_OK)
            return kb_err_prefix(err, "kubernetes_sd_configs[%zu]", i);
        j->n_k8s = i + 1;
    }
    return KB_OK;
}

enum kb_status job_new(const struct scrape_config_job *cfg,
                       const char *config_dir, struct scrape_job **out,
                       struct kb_err *err)
{
    struct scrape_job *j = kb_calloc(1, sizeof(*j));
    j->cfg = cfg;
    j->dirty = true;
    enum kb_status st;
    if ((st = job_relabel(j, err)) || (st = job_static(j, err)) ||
        (st = job_file_sd(j, config_dir, err)) || (st = job_k8s(j, err))) {
        kb_err_prefix(err, "scrape_configs %s", cfg->job_name);
        job_free(j, NULL);
        return st;
    }
    *out = j;
    return KB_OK;
}

static void dropped_clear(struct scrape_job *j)
{
    for (size_t i = 0; i < j->n_dropped; i++) {
        labels_free(j->dropped[i].discovered);
        free(j->dropped[i].reason);
    }
    free(j->dropped);
    j->dropped = NULL;
    j->n_dropped = j->cap_dropped = 0;
}

void job_free(struct scrape_job *j, struct scrape_manager *m)
{
    if (!j)
        return;
    for (size_t i = 0; i < j->n_targets; i++)
        target_free(j->targets[i], m);
    free(j->targets);
    dropped_clear(j);
    for (size_t i = 0; i < j->n_relabel; i++)
        relabel_config_free(&j->relabel[i]);
    free(j->relabel);
    free(j->params);
    disc_group_set_clear(&j->static_groups);
    free(j->static_groups.groups);
    for (size_t i = 0; i < j->n_file_sd; i++)
        disc_file_sd_free(j->file_sd[i]);
    free(j->file_sd);
    for (size_t i = 0; i < j->n_k8s; i++)
        disc_k8s_free(j->k8s[i]);
    free(j->k8s);
    free(j);
}

/* ---- Providers in the event loop ------------------------------------------
 */

void job_poll(struct scrape_job *j)
{
    for (size_t i = 0; i < j->n_file_sd; i++)
        if (disc_file_sd_poll(j->file_sd[i]))
            j->dirty = true;
    for (size_t i = 0; i < j->n_k8s; i++)
        if (disc_k8s_poll(j->k8s[i]))
            j->dirty = true;
}

static void add_fd(struct curl_waitfd *fds, unsigned *n, unsigned max, int fd)
{
    if (fd < 0 || *n >= max)
        return;
    fds[*n] = (struct curl_waitfd){.fd = fd, .events = CURL_WAIT_POLLIN};
    (*n)++;
}

void job_wait_fds(const struct scrape_job *j, struct curl_waitfd *fds,
                  unsigned *n, unsigned max, int *timeout_ms)
{
    for (size_t i = 0; i < j->n_file_sd; i++) {
        add_fd(fds, n, max, disc_file_sd_fd(j->file_sd[i]));
        int t = disc_file_sd_timeout_ms(j->file_sd[i]);
        if (t < *timeout_ms)
            *timeout_ms = t;
    }
    for (size_t i = 0; i < j->n_k8s; i++)
        add_fd(fds, n, max, disc_k8s_fd(j->k8s[i]));
}

/* ---- Targets from groups ----------------------------------------------------
 */

/* The group's labels under the target's: what discovery gave. */
static struct labels *discovered_labels(const struct labels *target,
                                        const struct labels *group)
{
    struct labels_builder *b = labels_builder_new();
    labels_builder_reset(b, target);
    struct kb_err err;
    for (size_t i = 0; i < labels_count(group); i++) {
        const struct label *l = labels_at(group, i);
        if (!labels_get(target, l->name))
            (void)labels_builder_add(b, l->name, l->value, &err);
    }
    struct labels *out = NULL;
    if (labels_builder_finish(b, &out, &err) != KB_OK)
        out = labels_dup(target);
    labels_builder_free(b);
    return out;
}

static char *target_key(const struct scrape_job *j, const struct labels *all)
{
    struct buf b;
    buf_init(&b, BUF_NO_LIMIT);
    (void)buf_puts(&b, j->cfg->job_name);
    (void)buf_putc(&b, '\xff');
    (void)labels_format(all, &b);
    char *key = kb_strdup(buf_cstr(&b));
    buf_free(&b);
    return key;
}

/* Index targets[0..n) by key into `idx` (value: position + 1). */
static void index_targets(struct hmap *idx, struct scrape_target **t, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        bool found;
        *hmap_put(idx, t[i]->key, strlen(t[i]->key), &found) = i + 1;
        t[i]->claimed = false;
    }
}

struct sync {
    struct scrape_job *j;
    struct scrape_manager *m;
    struct hmap *old_idx, *adopt_idx, *new_idx;
    struct scrape_job *adopt;
    struct scrape_target **targets;
    size_t n, cap;
    int64_t now_ms;
};

static void add_dropped(struct scrape_job *j, struct labels *discovered,
                        const char *reason)
{
    j->dropped = kb_grow(j->dropped, &j->cap_dropped, j->n_dropped + 1,
                         sizeof(*j->dropped));
    j->dropped[j->n_dropped++] =
        (struct scrape_dropped){discovered, kb_strdup(reason)};
}

/* A target found in `from` (the job's own, or the adopted job's) by key,
 * claimed; NULL when none. */
static struct scrape_target *claim(struct hmap *idx, struct scrape_target **t,
                                   const char *key)
{
    uint64_t *pos = idx ? hmap_get(idx, key, strlen(key)) : NULL;
    if (!pos || t[*pos - 1]->claimed)
        return NULL;
    t[*pos - 1]->claimed = true;
    return t[*pos - 1];
}

static void sync_one(struct sync *s, const struct labels *target,
                     const struct labels *group)
{
    struct scrape_job *j = s->j;
    const struct scrape_config_job *c = j->cfg;
    struct relabel_job rj = {
        .job_name = c->job_name,
        .scheme = c->scheme,
        .scrape_interval_ms = c->scrape_interval_ms,
        .scrape_timeout_ms = c->scrape_timeout_ms,
        .params = j->params,
        .nparams = j->n_params,
        .relabel = j->relabel,
        .nrelabel = j->n_relabel,
    };
    struct labels *disc = discovered_labels(target, group);
    struct relabel_target rt;
    bool keep = false;
    struct kb_err err;
    if (relabel_populate(&rj, target, group, &rt, &keep, &err) != KB_OK) {
        add_dropped(j, disc, err.msg);
        return;
    }
    if (!keep) {
        add_dropped(j, disc, "");
        return;
    }
    char *key = target_key(j, rt.all);
    bool dup;
    hmap_put(s->new_idx, key, strlen(key), &dup);
    if (dup) { /* another group yields the same target: scrape it once */
        labels_free(disc);
        free(key);
        relabel_target_free(&rt);
        return;
    }
    struct scrape_target *t = target_new(j, &rt, disc, key, s->now_ms);
    relabel_target_free(&rt);
    labels_free(disc);
    struct scrape_target *old = claim(s->old_idx, j->targets, key);
    if (!old && s->adopt)
        old = claim(s->adopt_idx, s->adopt->targets, key);
    free(key);
    if (old)
        target_adopt(t, old, s->m);
    s->targets = kb_grow(s->targets, &s->cap, s->n + 1, sizeof(*s->targets));
    s->targets[s->n++] = t;
}

static void sync_set(struct sync *s, const struct disc_group_set *set)
{
    for (size_t g = 0; g < set->n; g++) {
        const struct disc_group *grp = set->groups[g];
        for (size_t t = 0; t < grp->n_targets; t++)
            sync_one(s, grp->targets[t], grp->labels);
    }
}

/* Free the old targets t[0..n): what target_adopt took from the claimed
 * ones is no longer theirs; the rest is cancelled and freed. */
static void free_old(struct scrape_target **t, size_t n,
                     struct scrape_manager *m)
{
    for (size_t i = 0; i < n; i++)
        target_free(t[i], m);
    free(t);
}

void job_sync(struct scrape_job *j, struct scrape_manager *m,
              struct scrape_job *adopt)
{
    struct sync s = {.j = j, .m = m, .adopt = adopt, .now_ms = kb_now_ms()};
    s.old_idx = hmap_new(j->n_targets);
    s.new_idx = hmap_new(j->n_targets);
    index_targets(s.old_idx, j->targets, j->n_targets);
    if (adopt) {
        s.adopt_idx = hmap_new(adopt->n_targets);
        index_targets(s.adopt_idx, adopt->targets, adopt->n_targets);
    }
    dropped_clear(j);
    sync_set(&s, &j->static_groups);
    for (size_t i = 0; i < j->n_file_sd; i++)
        sync_set(&s, disc_file_sd_groups(j->file_sd[i], NULL));
    for (size_t i = 0; i < j->n_k8s; i++)
        sync_set(&s, disc_k8s_groups(j->k8s[i], NULL));

    free_old(j->targets, j->n_targets, m);
    if (adopt) {
        free_old(adopt->targets, adopt->n_targets, m);
        adopt->targets = NULL;
        adopt->n_targets = 0;
        hmap_free(s.adopt_idx);
    }
    j->targets = s.targets;
    j->n_targets = s.n;
    j->dirty = false;
    hmap_free(s.old_idx);
    hmap_free(s.new_idx);
    log_debug("scrape", "Targets updated", "job", j->cfg->job_name, NULL);
}
