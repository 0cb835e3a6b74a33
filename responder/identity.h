#ifndef OG_IDENTITY_H
#define OG_IDENTITY_H
#endif
