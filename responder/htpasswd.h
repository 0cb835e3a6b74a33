#ifndef OG_HTPASSWD_H
#define OG_HTPASSWD_H
#endif
