#ifndef OG_REQUEST_H
#define OG_REQUEST_H
#endif
