/*
 * listen_spec.c - reads `--listen unix:PATH[,mode=OCTAL][,group=NAME|GID]`
 * (the text after "unix:") into a struct og_listen_unix: the path, the mode
 * (0660 unless given, whether or not group= is) and the group, by name or
 * number. Pure and bounded: it reads exactly LEN bytes, touches no file and
 * looks up no group (serve.c does that, before the socket exists).
 */
#include "listen_spec.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* What the operator wrote is quoted back cut to this many bytes. */
#define SHOWN(n) ((int)((n) > 40 ? 40 : (n)))

static int fail(char *err, size_t errcap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errcap, const char *fmt, ...)
{
    va_list ap;

    if (errcap) {
        va_start(ap, fmt);
        vsnprintf(err, errcap, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static int parse_mode(const char *v, size_t n, mode_t *out)
{
    unsigned m = 0;

    if (n < 1 || n > 6)                /* 0660, 660, 00660: leading zeros as strtol took them */
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '7')
            return -1;
        m = m * 8 + (unsigned)(v[i] - '0');
    }
    if (m > 0777)
        return -1;
    *out = (mode_t)m;
    return 0;
}

static bool all_digits(const char *v, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (v[i] < '0' || v[i] > '9')
            return false;
    return true;
}

static int parse_gid(const char *v, size_t n, gid_t *out)
{
    unsigned long long g = 0;

    if (n > 10)
        return -1;
    for (size_t i = 0; i < n; i++)
        g = g * 10 + (unsigned long long)(v[i] - '0');
    /* (gid_t)-1 means "leave the group as it is" to chown */
    if (g >= 4294967295ULL || (gid_t)g != g || (gid_t)g == (gid_t)-1)
        return -1;
    *out = (gid_t)g;
    return 0;
}

static bool group_name_ok(const char *v, size_t n)
{
    if (n == 0 || n >= OG_LISTEN_GROUP_MAX || v[0] == '-')
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c <= 0x20 || c >= 0x7f || c == ',' || c == ':' || c == '/' || c == '\\')
            return false;
    }
    return true;
}

int og_listen_unix_parse(const char *spec, size_t len, struct og_listen_unix *out,
                         char *err, size_t errcap)
{
    const char *end, *p, *comma;
    size_t plen;

    memset(out, 0, sizeof(*out));
    out->mode = OG_LISTEN_DEFAULT_MODE;
    if (errcap)
        err[0] = '\0';
    if (!spec)
        return fail(err, errcap, "path empty");
    end = spec + len;
    if (memchr(spec, '\0', len))
        return fail(err, errcap, "a NUL byte in the text");

    comma = memchr(spec, ',', len);
    plen = comma ? (size_t)(comma - spec) : len;
    if (plen == 0)
        return fail(err, errcap, "path empty (expected unix:PATH[,mode=0660][,group=NAME])");
    if (plen >= OG_LISTEN_PATH_MAX)
        return fail(err, errcap, "path too long (%zu bytes; a unix socket path has at most %zu)",
                    plen, (size_t)OG_LISTEN_PATH_MAX - 1);
    memcpy(out->path, spec, plen);
    out->path[plen] = '\0';

    for (p = comma; p && p < end; p = comma) {
        const char *opt = p + 1, *eq, *val;
        size_t olen, nlen, vlen;

        comma = memchr(opt, ',', (size_t)(end - opt));
        olen = comma ? (size_t)(comma - opt) : (size_t)(end - opt);
        if (olen == 0)
            return fail(err, errcap, "an empty option (a stray comma)");
        eq = memchr(opt, '=', olen);
        nlen = eq ? (size_t)(eq - opt) : olen;
        val = eq ? eq + 1 : opt + olen;
        vlen = eq ? olen - nlen - 1 : 0;

        if (nlen == 4 && memcmp(opt, "mode", 4) == 0) {
            if (out->mode_given)
                return fail(err, errcap, "mode= given twice");
            if (!eq || parse_mode(val, vlen, &out->mode) != 0)
                return fail(err, errcap, "mode=%.*s: expected an octal mode from 0 to 0777 "
                            "(e.g. mode=0660)", SHOWN(vlen), val);
            out->mode_given = true;
        } else if (nlen == 5 && memcmp(opt, "group", 5) == 0) {
            if (out->group_given)
                return fail(err, errcap, "group= given twice");
            if (!eq || vlen == 0)
                return fail(err, errcap, "group=: expected a group name or a numeric gid");
            if (all_digits(val, vlen)) {
                if (parse_gid(val, vlen, &out->gid) != 0)
                    return fail(err, errcap, "group=%.*s: gid out of range", SHOWN(vlen), val);
                out->group_is_gid = true;
            } else {
                if (!group_name_ok(val, vlen))
                    return fail(err, errcap, "group=%.*s: not a valid group name",
                                SHOWN(vlen), val);
                memcpy(out->group, val, vlen);
                out->group[vlen] = '\0';
            }
            out->group_given = true;
        } else {
            return fail(err, errcap, "unknown option \"%.*s\" (expected mode= or group=)",
                        SHOWN(nlen), opt);
        }
    }
    return 0;
}
