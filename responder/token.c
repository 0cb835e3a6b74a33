/* responder/token.c - STUB, being written (issue 3). */
#include "token.h"
struct og_tokens *og_tokens_load(const struct og_config *cfg, char *err, size_t errlen)
{ (void)cfg; if (errlen) err[0] = 0; return NULL; }
void og_tokens_free(struct og_tokens *t) { (void)t; }
bool og_token_is_mine(const struct og_tokens *t, const char *tok, size_t len)
{ (void)t; (void)tok; (void)len; return false; }
enum og_identify_result og_token_identify(struct og_tokens *t, const char *tok, size_t len,
    struct og_identity *id, struct og_identity_store *store, const char **reason)
{ (void)t; (void)tok; (void)len; (void)id; (void)store; *reason = "no token key"; return OG_ID_BAD_CREDENTIALS; }
long og_token_mint(struct og_tokens *t, const struct og_identity *id, const char *key_id,
    const char *access_json, time_t now, char *out, size_t cap)
{ (void)t; (void)id; (void)key_id; (void)access_json; (void)now; (void)out; (void)cap; return -1; }
int og_token_key_generate(FILE *f) { (void)f; return -1; }
#include "commands.h"
int og_cmd_token_key(int argc, char **argv) { (void)argc; (void)argv; return 2; }
