/*
 * api.h - the control API server (api.c, docs/api.md).
 */
#ifndef UF_API_H
#define UF_API_H

#include <stddef.h>

struct daemon;
struct api;

/* Listens on 127.0.0.1:<cfg.api_port> inside the daemon's loop. */
struct api *api_open(struct daemon *d, char *err, size_t errlen);
void api_close(struct api *a);

#endif
