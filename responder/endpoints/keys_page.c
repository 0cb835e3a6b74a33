/*
 * keys_page.c - the key page's HTML, assets and request checks (keys_page.h).
 * Pure rendering into a caller's buffer: every value from a person, a
 * record or the config is escaped; nothing here asks Redis or reads files.
 */
#include "keys_page.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "keys_assets.h"

#define ROWS_RESERVE 12288   /* what the page needs after the list of keys */

static const char *or_empty(const char *s)
{
    return s ? s : "";
}

void og_html_escape(struct og_buf *b, const char *s, size_t max)
{
    size_t i, run = 0;

    if (!s)
        return;
    for (i = 0; i < max && s[i]; i++) {
        const char *e = NULL;
        unsigned char c = (unsigned char)s[i];

        switch (c) {
        case '&': e = "&amp;"; break;
        case '<': e = "&lt;"; break;
        case '>': e = "&gt;"; break;
        case '"': e = "&quot;"; break;
        case '\'': e = "&#39;"; break;
        default:
            if (c < 0x20 || c == 0x7f)
                e = "\xef\xbf\xbd";
            break;
        }
        if (e) {
            og_buf_put(b, s + run, i - run);
            og_buf_puts(b, e);
            run = i + 1;
        }
    }
    og_buf_put(b, s + run, i - run);
}

static void esc(struct og_buf *b, const char *s)
{
    og_html_escape(b, s, 4096);
}

static const char *status_line(int status)
{
    switch (status) {
    case 200: return "200 OK";
    case 201: return "201 Created";
    case 303: return "303 See Other";
    case 400: return "400 Bad Request";
    case 403: return "403 Forbidden";
    case 404: return "404 Not Found";
    case 405: return "405 Method Not Allowed";
    case 408: return "408 Request Timeout";
    default:  return "503 Service Unavailable";
    }
}

static void head(struct og_buf *o, int status, const char *title, const char *base)
{
    og_buf_printf(o, "Status: %s\r\nContent-Type: text/html; charset=utf-8\r\n"
                  "Cache-Control: no-store\r\n" OG_KEYS_SECURITY_HEADERS "\r\n",
                  status_line(status));
    og_buf_puts(o, "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                "<title>");
    esc(o, title);
    og_buf_puts(o, " \xc2\xb7 ocigate</title>\n");
    if (base) {
        og_buf_puts(o, "<link rel=\"stylesheet\" href=\"");
        esc(o, base);
        og_buf_puts(o, "/app.css\">\n<script src=\"");
        esc(o, base);
        og_buf_puts(o, "/app.js\" defer></script>\n");
    }
    og_buf_puts(o, "</head>\n<body>\n");
}

static void hidden_csrf(struct og_buf *o, const char *csrf)
{
    og_buf_puts(o, "<input type=\"hidden\" name=\"csrf\" value=\"");
    esc(o, csrf);
    og_buf_puts(o, "\">");
}

/* "2027-01-31T12:00:00Z" -> "2027-01-31 12:00 UTC"; "" -> dflt. */
static void when(struct og_buf *o, const char *t, const char *dflt)
{
    if (!t || !*t) {
        esc(o, dflt);
        return;
    }
    if (strlen(t) == 20 && t[10] == 'T' && t[19] == 'Z') {
        og_buf_puts(o, "<time datetime=\"");
        esc(o, t);
        og_buf_puts(o, "\">");
        og_html_escape(o, t, 10);
        og_buf_puts(o, " ");
        og_html_escape(o, t + 11, 5);
        og_buf_puts(o, " UTC</time>");
        return;
    }
    esc(o, t);
}

/* The record's repos_json (a JSON array of strings) as "a, b"; [] = all. */
static void scopes(struct og_buf *o, const char *json)
{
    const char *p = json ? json : "";
    bool any = false;

    while ((p = strchr(p, '"')) != NULL) {
        const char *q = p + 1;
        char item[1024];
        size_t n = 0;

        while (*q && *q != '"' && n + 1 < sizeof(item)) {
            if (*q == '\\' && q[1]) {
                q++;
                if (*q == 'u') {             /* globs are text: keep it visible */
                    item[n++] = '?';
                    q += strnlen(q, 5) > 4 ? 5 : strlen(q);
                    continue;
                }
            }
            item[n++] = *q++;
        }
        item[n] = '\0';
        if (!*q)
            break;
        og_buf_puts(o, any ? ", <code>" : "<code>");
        esc(o, item);
        og_buf_puts(o, "</code>");
        any = true;
        p = q + 1;
    }
    if (!any)
        og_buf_puts(o, "every repository you may reach");
}

static void revoke_form(struct og_buf *o, const struct og_keys_view *v,
                        const struct og_apikey_record *r)
{
    og_buf_puts(o, "<form class=\"inline\" method=\"post\" action=\"");
    esc(o, v->base);
    og_buf_puts(o, "/revoke\" data-confirm=\"Revoke the key ");
    esc(o, r->label[0] ? r->label : r->id);
    og_buf_puts(o, "? Clients using it stop working.\">");
    hidden_csrf(o, v->csrf);
    og_buf_puts(o, "<input type=\"hidden\" name=\"id\" value=\"");
    esc(o, r->id);
    og_buf_puts(o, "\"><button type=\"submit\" class=\"revoke\" aria-label=\"Revoke key ");
    esc(o, r->label[0] ? r->label : r->id);
    og_buf_puts(o, "\">Revoke</button></form>");
}

static void key_row(struct og_buf *o, const struct og_keys_view *v,
                    const struct og_apikey_record *r)
{
    og_buf_puts(o, "<li data-key-id=\"");
    esc(o, r->id);
    og_buf_puts(o, "\"><div class=\"keyhead\"><strong class=\"label\">");
    esc(o, r->label[0] ? r->label : "(no label)");
    og_buf_puts(o, "</strong>");
    revoke_form(o, v, r);
    og_buf_puts(o, "</div>\n<dl>");
    if (v->admin) {
        og_buf_puts(o, "<dt>User</dt><dd class=\"owner\">");
        esc(o, r->user);
        og_buf_puts(o, "</dd>");
    }
    og_buf_puts(o, "<dt>Repositories</dt><dd class=\"scopes\">");
    scopes(o, r->repos_json);
    og_buf_puts(o, "</dd><dt>Created</dt><dd class=\"created\">");
    when(o, r->created, "unknown");
    og_buf_puts(o, "</dd><dt>Expires</dt><dd class=\"expires\">");
    when(o, r->expires, "never");
    og_buf_puts(o, "</dd><dt>Last used</dt><dd class=\"last-used\">");
    when(o, r->last_used, "never");
    og_buf_puts(o, "</dd><dt>Id</dt><dd><code>");
    esc(o, r->id);
    og_buf_puts(o, "</code></dd></dl></li>\n");
}

static void user_heading(struct og_buf *o, const struct og_keys_view *v, const char *user)
{
    og_buf_puts(o, "<div class=\"userhead\"><h3>");
    esc(o, user);
    og_buf_puts(o, "</h3><form class=\"inline\" method=\"post\" action=\"");
    esc(o, v->base);
    og_buf_puts(o, "/revoke-user\" data-confirm=\"Revoke every key of ");
    esc(o, user);
    og_buf_puts(o, "?\">");
    hidden_csrf(o, v->csrf);
    og_buf_puts(o, "<input type=\"hidden\" name=\"user\" value=\"");
    esc(o, user);
    og_buf_puts(o, "\"><button type=\"submit\" class=\"revoke-all\" data-user=\"");
    esc(o, user);
    og_buf_puts(o, "\">Revoke all keys of ");
    esc(o, user);
    og_buf_puts(o, "</button></form></div>\n");
}

static void key_list(struct og_buf *o, const struct og_keys_view *v)
{
    size_t shown = 0, cap_rows = o->cap > ROWS_RESERVE ? o->cap - ROWS_RESERVE : 0;
    const char *cur = NULL;
    bool open = false;

    og_buf_puts(o, "<section aria-labelledby=\"keys-title\">\n<h2 id=\"keys-title\">");
    og_buf_puts(o, v->admin ? "Every user's keys" : "Your keys");
    og_buf_puts(o, "</h2>\n<div id=\"keys\">\n");
    if (v->nkeys == 0)
        og_buf_puts(o, v->admin ? "<p class=\"empty\">No keys yet: nobody has an API key.</p>\n"
                                : "<p class=\"empty\">No keys yet. Create one below.</p>\n");
    for (size_t i = 0; i < v->nkeys; i++) {
        const struct og_apikey_record *r = &v->keys[i];
        size_t mark = o->len;

        if (o->len > cap_rows)
            break;
        if (v->admin && (!cur || strcmp(cur, r->user) != 0)) {
            if (open)
                og_buf_puts(o, "</ul>\n");
            user_heading(o, v, r->user);
            og_buf_puts(o, "<ul class=\"keys\">\n");
            open = true;
            cur = r->user;
        } else if (!open) {
            og_buf_puts(o, "<ul class=\"keys\">\n");
            open = true;
        }
        key_row(o, v, r);
        if (o->truncated || o->len > cap_rows) {
            og_buf_rewind(o, mark);
            break;
        }
        shown++;
    }
    if (open)
        og_buf_puts(o, "</ul>\n");
    if (shown < v->nkeys)
        og_buf_printf(o, "<p class=\"error\">%zu more keys are not shown: the page holds "
                      "%zu. Revoke keys or use <code>ocigate key list</code>.</p>\n",
                      v->nkeys - shown, shown);
    og_buf_puts(o, "</div>\n</section>\n");
}

static void new_key(struct og_buf *o, const struct og_keys_view *v)
{
    const char *tools[] = { "docker", "podman" };

    og_buf_puts(o, "<section class=\"new\" aria-labelledby=\"new-title\">\n"
                "<h2 id=\"new-title\">Your new key");
    if (v->new_rec && v->new_rec->label[0]) {
        og_buf_puts(o, " \xe2\x80\x9c");
        esc(o, v->new_rec->label);
        og_buf_puts(o, "\xe2\x80\x9d");
    }
    og_buf_puts(o, "</h2>\n<p>Copy it now into your password manager or CI secret: "
                "it is shown only this once and ocigate keeps only a hash.</p>\n"
                "<div class=\"secret\"><code id=\"new-key\">");
    esc(o, v->new_key);
    og_buf_puts(o, "</code><button type=\"button\" class=\"copy secondary\" "
                "data-copy=\"new-key\" hidden>Copy</button></div>\n"
                "<p>Sign in with it (the command reads the key from standard input: paste it, "
                "then press Ctrl-D, or pipe it from your password manager):</p>\n");
    for (size_t i = 0; i < 2; i++) {
        og_buf_printf(o, "<div class=\"cmd\"><code id=\"%s-login\">%s login ", tools[i],
                      tools[i]);
        esc(o, v->host);
        og_buf_puts(o, " --username ");
        esc(o, v->user);
        og_buf_printf(o, " --password-stdin</code><button type=\"button\" class=\"copy "
                      "secondary\" data-copy=\"%s-login\" hidden>Copy</button></div>\n", tools[i]);
    }
    og_buf_puts(o, "</section>\n");
}

static void create_form(struct og_buf *o, const struct og_keys_view *v)
{
    og_buf_puts(o, "<section aria-labelledby=\"create-title\">\n"
                "<h2 id=\"create-title\">Create a key</h2>\n"
                "<form id=\"create-key\" method=\"post\" action=\"");
    esc(o, v->base);
    og_buf_puts(o, "/create\">");
    hidden_csrf(o, v->csrf);
    og_buf_puts(o, "\n<label for=\"label\">Label</label>\n"
                "<input type=\"text\" id=\"label\" name=\"label\" maxlength=\"200\" "
                "autocomplete=\"off\" aria-describedby=\"label-help\" value=\"");
    esc(o, v->label);
    og_buf_puts(o, "\">\n<p class=\"help\" id=\"label-help\">What the key is for, e.g. "
                "\xe2\x80\x9c" "CI of team-a\xe2\x80\x9d.</p>\n"
                "<label for=\"repos\">Repositories</label>\n"
                "<textarea id=\"repos\" name=\"repos\" rows=\"3\" autocomplete=\"off\" "
                "spellcheck=\"false\" aria-describedby=\"repos-help\">");
    esc(o, v->repos);
    og_buf_puts(o, "</textarea>\n<p class=\"help\" id=\"repos-help\">Repository names or globs "
                "(<code>team-a/**</code>), separated by commas or new lines; each within what "
                "you may read. Empty: every repository you may reach.</p>\n"
                "<label for=\"expires\">Expires</label>\n"
                "<input type=\"text\" id=\"expires\" name=\"expires\" inputmode=\"numeric\" "
                "autocomplete=\"off\" aria-describedby=\"expires-help\" value=\"");
    if (v->expires)
        esc(o, v->expires);
    else
        og_buf_printf(o, "%d", v->max_days < 90 ? v->max_days : 90);
    og_buf_printf(o, "\">\n<p class=\"help\" id=\"expires-help\">Days from now (1 to %d) or "
                  "a date (YYYY-MM-DD) at most %d days away.</p>\n"
                  "<p><button type=\"submit\" id=\"create-submit\">Create key</button></p>\n"
                  "</form>\n</section>\n", v->max_days, v->max_days);
}

size_t og_keys_render_page(const struct og_keys_view *v, int status, char *buf, size_t cap)
{
    struct og_buf o;

    og_buf_init(&o, buf, cap);
    head(&o, status, "API keys", v->base);
    og_buf_puts(&o, "<header>\n<h1>API keys</h1>\n<p>Signed in as <strong id=\"user\">");
    esc(&o, v->user);
    og_buf_puts(&o, "</strong>");
    if (v->admin)
        og_buf_puts(&o, " <span class=\"role\">(administrator)</span>");
    og_buf_puts(&o, " \xc2\xb7 <a id=\"signout\" href=\"");
    esc(&o, v->logout);
    og_buf_puts(&o, "\">Sign out</a></p>\n</header>\n<main>\n");
    if (v->notice) {
        og_buf_puts(&o, "<p class=\"notice\" role=\"status\" id=\"notice\">");
        esc(&o, v->notice);
        og_buf_puts(&o, "</p>\n");
    }
    if (v->error) {
        og_buf_puts(&o, "<p class=\"error\" role=\"alert\" id=\"error\">");
        esc(&o, v->error);
        og_buf_puts(&o, "</p>\n");
    }
    if (v->new_key)
        new_key(&o, v);
    key_list(&o, v);
    create_form(&o, v);
    og_buf_puts(&o, "</main>\n</body>\n</html>\n");
    return o.truncated ? 0 : o.len;
}

size_t og_keys_render_message(int status, const char *title, const char *text,
                              const char *base, const char *signin, char *buf, size_t cap)
{
    struct og_buf o;

    og_buf_init(&o, buf, cap);
    head(&o, status, title, base);
    og_buf_puts(&o, "<main>\n<h1>");
    esc(&o, title);
    og_buf_puts(&o, "</h1>\n<p id=\"message\">");
    esc(&o, text);
    og_buf_puts(&o, "</p>\n");
    if (signin) {
        og_buf_puts(&o, "<p><a id=\"signin\" class=\"button\" href=\"");
        esc(&o, signin);
        og_buf_puts(&o, "\">Sign in</a></p>\n");
    }
    if (base && !signin) {
        og_buf_puts(&o, "<p><a href=\"");
        esc(&o, base);
        og_buf_puts(&o, "\">Back to the API keys</a></p>\n");
    }
    og_buf_puts(&o, "</main>\n</body>\n</html>\n");
    return o.truncated ? 0 : o.len;
}

size_t og_keys_render_redirect(const char *location, char *buf, size_t cap)
{
    struct og_buf o;

    og_buf_init(&o, buf, cap);
    og_buf_puts(&o, "Status: 303 See Other\r\nLocation: ");
    og_buf_printable(&o, or_empty(location), 2048);
    og_buf_puts(&o, "\r\nContent-Type: text/plain; charset=utf-8\r\nCache-Control: no-store\r\n"
                OG_KEYS_SECURITY_HEADERS "\r\nSee ");
    og_buf_printable(&o, or_empty(location), 2048);
    og_buf_puts(&o, "\n");
    return o.truncated ? 0 : o.len;
}

size_t og_keys_render_asset(const char *name, size_t name_len, char *buf, size_t cap)
{
    const char *type, *body;
    struct og_buf o;

    if (name_len == 7 && memcmp(name, "app.css", 7) == 0) {
        type = "text/css; charset=utf-8";
        body = og_keys_css;
    } else if (name_len == 6 && memcmp(name, "app.js", 6) == 0) {
        type = "text/javascript; charset=utf-8";
        body = og_keys_js;
    } else {
        return 0;
    }
    og_buf_init(&o, buf, cap);
    og_buf_printf(&o, "Status: 200 OK\r\nContent-Type: %s\r\nCache-Control: no-cache\r\n"
                  OG_KEYS_SECURITY_HEADERS "\r\n", type);
    og_buf_puts(&o, body);
    return o.truncated ? 0 : o.len;
}

/* The origin of url[0..len) (scheme://host[:port], lower-cased, without the
   scheme's default port) into out; *used gets how many bytes of url it
   spans. false when url has none or it is too long. */
static bool origin_of(const char *url, size_t len, char *out, size_t cap, size_t *used)
{
    const char *sep = NULL, *auth, *end;
    size_t n;

    for (size_t i = 0; url && i + 2 < len; i++)
        if (url[i] == ':' && url[i + 1] == '/' && url[i + 2] == '/') {
            sep = url + i;
            break;
        }
    if (!sep || sep == url)
        return false;
    auth = sep + 3;
    end = auth;
    while (end < url + len && *end != '/' && *end != '?' && *end != '#')
        end++;
    n = (size_t)(end - url);
    if (end == auth || n >= cap)
        return false;
    for (size_t i = 0; i < n; i++)
        out[i] = (char)tolower((unsigned char)url[i]);
    out[n] = '\0';
    *used = n;
    if ((strncmp(out, "https://", 8) == 0 && n > 12 && strcmp(out + n - 4, ":443") == 0) ||
        (strncmp(out, "http://", 7) == 0 && n > 10 && strcmp(out + n - 3, ":80") == 0))
        *strrchr(out, ':') = '\0';
    return true;
}

bool og_keys_origin_ok(const char *external_url, const char *origin,
                       const char *sec_fetch_site, const char **why)
{
    const char *dummy;
    char want[512], got[512];
    size_t used = 0, olen;

    if (!why)
        why = &dummy;
    if (sec_fetch_site && strcasecmp(sec_fetch_site, "cross-site") == 0) {
        *why = "a cross-site request (Sec-Fetch-Site: cross-site)";
        return false;
    }
    /* The page's Referrer-Policy no-referrer makes a browser send Origin:
       null on its own forms' POSTs; Sec-Fetch-Site (which no page can set)
       then says where the request came from. */
    if (origin && strcmp(origin, "null") == 0 && sec_fetch_site &&
        strcasecmp(sec_fetch_site, "same-origin") == 0) {
        *why = "";
        return true;
    }
    if (origin) {
        olen = strlen(origin);
        while (olen && origin[olen - 1] == '/')   /* not sent by browsers; harmless */
            olen--;
        /* an Origin is scheme://host[:port] and nothing after it */
        if (!external_url ||
            !origin_of(external_url, strlen(external_url), want, sizeof(want), &used) ||
            !origin_of(origin, olen, got, sizeof(got), &used) || used != olen ||
            strcmp(want, got) != 0) {
            *why = "the request's Origin is not this registry's externalUrl";
            return false;
        }
    }
    *why = "";
    return true;
}

void og_keys_host_of(const char *external_url, char *out, size_t cap)
{
    const char *p = external_url ? strstr(external_url, "://") : NULL;
    size_t n;

    if (!cap)
        return;
    out[0] = '\0';
    if (!p)
        return;
    p += 3;
    n = strcspn(p, "/?#");
    if (n >= cap)
        return;
    memcpy(out, p, n);
    out[n] = '\0';
}

bool og_keys_parse_expires(const char *s, time_t now, int max_days, time_t *out,
                           char *err, size_t errlen)
{
    time_t limit = now + (time_t)max_days * 86400;
    size_t n;

    while (s && (*s == ' ' || *s == '\t'))
        s++;
    n = s ? strlen(s) : 0;
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    if (n == 0) {
        *out = limit;
        return true;
    }
    if (n <= 6 && strspn(s, "0123456789") == n) {
        long days = strtol(s, NULL, 10);
        if (days < 1 || days > max_days) {
            og_set_err(err, errlen, "Expires: a number of days from 1 to %d", max_days);
            return false;
        }
        *out = now + (time_t)days * 86400;
        return true;
    }
    if (n == 10 && s[4] == '-' && s[7] == '-') {
        char d[11];
        time_t t;

        memcpy(d, s, 10);
        d[10] = '\0';
        if (!og_apikey_parse_time(d, &t)) {
            og_set_err(err, errlen, "Expires: not a date (YYYY-MM-DD)");
            return false;
        }
        if (t <= now) {
            og_set_err(err, errlen, "Expires: the date has passed");
            return false;
        }
        if (t > limit) {
            og_set_err(err, errlen, "Expires: at most %d days from now", max_days);
            return false;
        }
        *out = t;
        return true;
    }
    og_set_err(err, errlen, "Expires: a number of days (1 to %d) or a date (YYYY-MM-DD)",
               max_days);
    return false;
}

long og_keys_split_repos(char *s, const char **out, size_t max)
{
    size_t n = 0;
    char *p = s;

    while (p && *p) {
        char *start;
        int depth = 0;

        p += strspn(p, ", \t\r\n");
        if (!*p)
            break;
        start = p;
        /* white space ends a glob; a comma only outside {a,b} */
        for (; *p && !strchr(" \t\r\n", *p) && !(*p == ',' && depth == 0); p++) {
            if (*p == '\\' && p[1])
                p++;
            else if (*p == '{')
                depth++;
            else if (*p == '}' && depth > 0)
                depth--;
        }
        if (*p)
            *p++ = '\0';
        if (n == max)
            return -1;
        out[n++] = start;
    }
    return (long)n;
}
