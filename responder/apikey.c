/* responder/apikey.c - STUB, being written (issue 3). */
#include "apikey.h"
#include <stdlib.h>
struct og_apikeys { int unused; };
struct og_apikeys *og_apikeys_new(const struct og_config *cfg, struct og_redis *redis)
{ (void)cfg; (void)redis; return NULL; }
void og_apikeys_free(struct og_apikeys *k) { (void)k; }
enum og_identify_result og_apikey_identify(struct og_apikeys *k, const char *basic_user,
    const char *key, size_t key_len, struct og_identity *id, struct og_identity_store *store,
    const char **reason, int *cache_hit)
{ (void)k; (void)basic_user; (void)key; (void)key_len; (void)id; (void)store; (void)cache_hit;
  *reason = "API keys are not enabled"; return OG_ID_BAD_CREDENTIALS; }
int og_apikey_create(struct og_redis *r, const char *user, const char *const *groups,
    size_t ngroups, const char *const *repos, size_t nrepos, time_t expires,
    const char *label, char *key_out, struct og_apikey_record *rec, char *err, size_t errlen)
{ (void)r; (void)user; (void)groups; (void)ngroups; (void)repos; (void)nrepos; (void)expires;
  (void)label; (void)key_out; (void)rec; (void)err; (void)errlen; return -1; }
int og_apikey_show(struct og_redis *r, const char *id, struct og_apikey_record *rec)
{ (void)r; (void)id; (void)rec; return -1; }
long og_apikey_list(struct og_redis *r, const char *user,
    void (*fn)(const struct og_apikey_record *rec, void *arg), void *arg)
{ (void)r; (void)user; (void)fn; (void)arg; return -1; }
int og_apikey_revoke(struct og_redis *r, const char *id, const char *only_user)
{ (void)r; (void)id; (void)only_user; return -1; }
