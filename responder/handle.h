#ifndef OG_HANDLE_H
#define OG_HANDLE_H
#endif
