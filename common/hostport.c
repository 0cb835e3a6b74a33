/*
 * hostport.c - "HOST:PORT" and "[IPV6]:PORT" from a config file or a Redis
 * Sentinel answer: a bounded parser (a plain function with a length) and its
 * printer, so that config, check, logs and health write addresses alike.
 */
#include "hostport.h"

#include <stdio.h>
#include <string.h>

static bool is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '-' || c == '_';
}

static bool is_v6_char(char c)
{
    return (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || (c >= '0' && c <= '9') ||
           c == ':' || c == '.';
}

bool og_host_valid(const char *h, size_t n)
{
    bool v6;

    if (!h || n == 0 || n > OG_HOST_MAX - 1)
        return false;
    v6 = memchr(h, ':', n) != NULL;
    for (size_t i = 0; i < n; i++)
        if (!(v6 ? is_v6_char(h[i]) : is_name_char(h[i])))
            return false;
    return true;
}

int og_port_parse(const char *s, size_t n)
{
    int v = 0;

    if (!s || n == 0 || n > 5)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v >= 1 && v <= 65535 ? v : -1;
}

bool og_hostport_parse(const char *s, size_t n, char *host, int *port)
{
    const char *h, *p;
    size_t hlen;

    if (!s || n < 3)
        return false;
    if (s[0] == '[') {
        const char *rb = memchr(s, ']', n);
        if (!rb || rb + 1 >= s + n || rb[1] != ':')
            return false;
        h = s + 1;
        hlen = (size_t)(rb - h);
        if (!memchr(h, ':', hlen))          /* brackets hold an IPv6 address only */
            return false;
        p = rb + 2;
    } else {
        const char *colon = memchr(s, ':', n);
        if (!colon || memchr(colon + 1, ':', (size_t)(s + n - colon - 1)))
            return false;                   /* none, or an IPv6 address without brackets */
        h = s;
        hlen = (size_t)(colon - s);
        p = colon + 1;
    }
    if (!og_host_valid(h, hlen))
        return false;
    *port = og_port_parse(p, (size_t)(s + n - p));
    if (*port < 0)
        return false;
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    return true;
}

void og_hostport_format(const char *host, int port, char *out, size_t cap)
{
    bool v6 = strchr(host, ':') != NULL;

    snprintf(out, cap, "%s%s%s:%d", v6 ? "[" : "", host, v6 ? "]" : "", port);
}
