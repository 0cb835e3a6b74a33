/*
 * keys_page.h - the key page's pieces that need no Redis and no session:
 * the HTML (every value escaped), its CSS and script, the checks of a
 * state-changing request's origin, the "expires" field and the list of
 * repository globs. keys_endpoint.c puts them together.
 */
#ifndef OCIGATE_KEYS_PAGE_H
#define OCIGATE_KEYS_PAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "buf.h"
#include "key_records.h"

/* The headers every page of the key page carries (after Status and
   Content-Type): the Content-Security-Policy and its neighbours. */
#define OG_KEYS_SECURITY_HEADERS                                                        \
    "Content-Security-Policy: default-src 'none'; script-src 'self'; style-src 'self'; " \
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'\r\n"   \
    "X-Content-Type-Options: nosniff\r\n"                                               \
    "X-Frame-Options: DENY\r\n"                                                         \
    "Referrer-Policy: no-referrer\r\n"

/* Text as HTML (element content and double-quoted attribute values):
   & < > " ' escaped, control bytes written as U+FFFD. At most max bytes. */
void og_html_escape(struct og_buf *b, const char *s, size_t max);

/* What one page shows. NULL strings are "". */
struct og_keys_view {
    const char *base;             /* endpoints.keys */
    const char *logout;           /* endpoints.logout */
    const char *user;             /* who is signed in */
    bool admin;                   /* adminPolicy: every user's keys */
    const char *csrf;             /* the session's CSRF token */
    const char *host;             /* the registry's host[:port], from externalUrl */
    int max_days;                 /* auth.apikey.maxLifetimeDays */
    const struct og_apikey_record *keys;   /* sorted by user, then newest first */
    size_t nkeys;
    const char *notice;           /* a status line ("Key revoked."), or NULL */
    const char *error;            /* why the form was refused, or NULL */
    const char *label, *repos, *expires;   /* the form's values to show again */
    const char *new_key;          /* the key just made: shown once, or NULL */
    const struct og_apikey_record *new_rec;
};

/* The whole page: "Status:", headers (no-store), body. Returns its length,
   or 0 when it does not fit in cap (keys that do not fit are left out and
   counted in a line that says so, so this needs only a few KiB). */
size_t og_keys_render_page(const struct og_keys_view *v, int status, char *buf, size_t cap);

/* A page that only says something (403, 404, 503...), styled from base
   (endpoints.keys) when base is not NULL, with a link #signin to signin
   (endpoints.login) when signin is not NULL, else a link back to base. */
size_t og_keys_render_message(int status, const char *title, const char *text,
                              const char *base, const char *signin, char *buf, size_t cap);

/* 303 See Other to location (a path of ours); NULL-safe. */
size_t og_keys_render_redirect(const char *location, char *buf, size_t cap);

/* The CSS ("app.css") or script ("app.js") under base; 0 for another name. */
size_t og_keys_render_asset(const char *name, size_t name_len, char *buf, size_t cap);

/* May a state-changing request with these headers (NULL = absent) go on?
   Refused: an Origin that is present and not external_url's origin
   (scheme://host[:port], compared without regard to case), and
   Sec-Fetch-Site: cross-site. Origin "null" passes only with
   Sec-Fetch-Site: same-origin (what a browser sends for the page's own
   forms under Referrer-Policy: no-referrer). *why says which. */
bool og_keys_origin_ok(const char *external_url, const char *origin,
                       const char *sec_fetch_site, const char **why);

/* The registry's host[:port] in external_url into out ("" when none). */
void og_keys_host_of(const char *external_url, char *out, size_t cap);

/* The form's "expires": a number of days (1..max_days) or a date YYYY-MM-DD
   (UTC midnight, after now and at most max_days days from now); empty is
   max_days. false with err otherwise. */
bool og_keys_parse_expires(const char *s, time_t now, int max_days, time_t *out,
                           char *err, size_t errlen);

/* Split the form's repository globs in place: separated by commas and
   white space. Returns how many (at most max), or -1 when there are more. */
long og_keys_split_repos(char *s, const char **out, size_t max);

#endif
