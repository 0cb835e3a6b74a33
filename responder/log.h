#ifndef OG_LOG_H
#define OG_LOG_H
#endif
