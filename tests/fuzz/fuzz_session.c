/*
 * fuzz_session.c - the browser session cookie (responder/auth/session.c):
 * og_session_open on a whole Cookie header, and the version-1 plaintext
 * parser behind it.
 *
 * The key is a fixed TEST-ONLY 32-byte value, so that seeds stay valid
 * across runs. The first byte of the input picks what the rest is:
 *   '0' a Cookie header, opened with og_session_open;
 *   '1' a session plaintext, sealed here under the key (so that mutated
 *       plaintexts get past AES-GCM) and opened; a session that opens must
 *       seal and open again to the same thing;
 *   '2' a plaintext given straight to og_session_decode.
 * Other first bytes are taken modulo 3.
 *
 * OG_FUZZ_WRITE_SEEDS=DIR: write seed inputs into DIR and exit.
 */
#include "fuzz_common.h"

#include <stdio.h>

#include "session.h"

#define NOW ((time_t)1800000000)

static struct og_session_keys *keys;

static void check_same(const struct og_session *a, const struct og_session *b)
{
    if (strcmp(a->user, b->user) != 0 || strcmp(a->sid, b->sid) != 0 ||
        a->ngroups != b->ngroups || a->issued != b->issued || a->expires != b->expires)
        abort();
    for (size_t i = 0; i < a->ngroups; i++)
        if (strcmp(a->group_ptrs[i], b->group_ptrs[i]) != 0)
            abort();
}

static void reseal(const struct og_session *s)
{
    char v[OG_SESSION_VALUE_MAX + 1];
    struct og_session again;
    size_t n = og_session_seal(keys, s, v, sizeof(v));

    if (n == 0 || og_session_open_value(keys, v, n, NOW, &again) != 0)
        abort();
    check_same(s, &again);
}

static void write_seed(const char *dir, const char *name, char mode, const void *p, size_t n)
{
    char path[512];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "wb");
    if (!f)
        return;
    fputc(mode, f);
    fwrite(p, 1, n, f);
    fclose(f);
}

static void write_seeds(const char *dir)
{
    const char *groups[] = { "artifact-workloads", "admins" };
    struct og_session s;
    unsigned char plain[4096];
    char v[OG_SESSION_VALUE_MAX + 1], hdr[OG_SESSION_VALUE_MAX + 64];
    long n;

    if (og_session_new(&s, "alice", groups, 2, NOW - 10, 3600) != 0)
        abort();
    n = og_session_encode(&s, plain, sizeof(plain));
    write_seed(dir, "plain-alice", '1', plain, (size_t)n);
    write_seed(dir, "decode-alice", '2', plain, (size_t)n);
    og_session_seal(keys, &s, v, sizeof(v));
    snprintf(hdr, sizeof(hdr), "theme=dark; ocigate_session=%s; other=\"x\"", v);
    write_seed(dir, "cookie-alice", '0', hdr, strlen(hdr));
    write_seed(dir, "cookie-empty", '0', "ocigate_session=", 16);
    exit(0);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static const unsigned char master[32] = "TEST-ONLY fuzz session key 0001";
    const char *seeds = getenv("OG_FUZZ_WRITE_SEEDS");

    (void)argc;
    (void)argv;
    keys = og_session_keys_from_bytes(master, 32);
    if (!keys)
        abort();
    if (seeds)
        write_seeds(seeds);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct og_session s;
    char *in;

    if (size < 1)
        return 0;
    in = fz_dup_exact(data + 1, size - 1);
    switch (data[0] % 3) {
    case 0:
        if (og_session_open(keys, in, size - 1, NOW, &s) == 0)
            reseal(&s);
        break;
    case 1: {
        char v[OG_SESSION_VALUE_MAX + 1];
        size_t n = og_session_seal_blob(keys, OG_SESSION_COOKIE, (const unsigned char *)in,
                                        size - 1, v, sizeof(v));
        if (n > 0 && og_session_open_value(keys, v, n, NOW, &s) == 0)
            reseal(&s);
        break;
    }
    default:
        if (og_session_decode((const unsigned char *)in, size - 1, &s) == 0) {
            unsigned char again[4096];
            long m = og_session_encode(&s, again, sizeof(again));
            /* a decoded session encodes back to the same bytes */
            if (m != (long)(size - 1) || memcmp(again, in, (size_t)m) != 0)
                abort();
        }
        break;
    }
    free(in);
    return 0;
}
