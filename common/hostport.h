/*
 * hostport.h - "HOST:PORT" and "[IPV6]:PORT": parse (bounded) and print.
 */
#ifndef OCIGATE_HOSTPORT_H
#define OCIGATE_HOSTPORT_H

#include <stdbool.h>
#include <stddef.h>

#define OG_HOST_MAX 254         /* a host name of at most 253 bytes, and its NUL */
#define OG_HOSTPORT_MAX 264     /* "[" HOST "]:" PORT and a NUL */

/* Is h[0..n) a usable host: 1..253 bytes of letters, digits, '.', '-', '_'
   (a name or an IPv4 address) or, with colons, of hex digits, ':' and '.'
   (an IPv6 address, written without brackets)? */
bool og_host_valid(const char *h, size_t n);

/* A port written in decimal, 1..65535, no sign and at most 5 digits: its
   value, or -1. */
int og_port_parse(const char *s, size_t n);

/* Parse s[0..n) as HOST:PORT or [IPV6]:PORT (the port is required). The host
   (brackets removed) goes to host (OG_HOST_MAX bytes). False when malformed. */
bool og_hostport_parse(const char *s, size_t n, char *host, int *port);

/* HOST:PORT, with brackets around an IPv6 address, into out (cap bytes,
   OG_HOSTPORT_MAX is always enough). */
void og_hostport_format(const char *host, int port, char *out, size_t cap);

#endif
