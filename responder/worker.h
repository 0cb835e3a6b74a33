#ifndef OG_WORKER_H
#define OG_WORKER_H
#endif
