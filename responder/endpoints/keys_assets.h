/*
 * keys_assets.h - the key page's CSS and script (keys_assets.c).
 */
#ifndef OCIGATE_KEYS_ASSETS_H
#define OCIGATE_KEYS_ASSETS_H

extern const char og_keys_css[];
extern const char og_keys_js[];

#endif
