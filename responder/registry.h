#ifndef OG_REGISTRY_H
#define OG_REGISTRY_H
#endif
