#ifndef OG_RESPONSE_H
#define OG_RESPONSE_H
#endif
