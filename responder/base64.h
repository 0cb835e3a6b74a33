#ifndef OG_BASE64_H
#define OG_BASE64_H
#endif
