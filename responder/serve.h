#ifndef OG_SERVE_H
#define OG_SERVE_H
#endif
