/*
 * route.h - raw request target + method -> registry operation.
 *
 * The classifier is the strict front door (doc/decisions.md): it reads the target
 * exactly as the client sent it and either names one OCI distribution
 * operation (repository, reference, base action) or refuses with 400
 * (ambiguous or malformed), 404 (not a known /v2/ shape) or 405 (method).
 * It allocates nothing: the result is one fixed-size struct.
 */
#ifndef OCIGATE_POLICY_ROUTE_H
#define OCIGATE_POLICY_ROUTE_H

#include <stdbool.h>
#include <stddef.h>

#define OG_URI_MAX       8192   /* longer targets are 400 */
#define OG_REPO_MAX      255    /* distribution spec limit */
#define OG_TAG_MAX       128
#define OG_DIGEST_MAX    135    /* "sha512:" + 128 hex */
#define OG_REF_MAX       256    /* tag, digest or upload id */
#define OG_MAX_TAGS      16     /* ?tag= values on one manifest PUT */

enum og_method {
    OG_M_OTHER = 0, OG_M_GET, OG_M_HEAD, OG_M_POST, OG_M_PUT, OG_M_PATCH,
    OG_M_DELETE, OG_M_OPTIONS,
};

enum og_route_kind {
    OG_R_NONE = 0,      /* refused: see status */
    OG_R_PING,          /* GET/HEAD /v2/ */
    OG_R_CATALOG,       /* GET /v2/_catalog */
    OG_R_TAGS_LIST,     /* GET /v2/NAME/tags/list */
    OG_R_MANIFEST,      /* /v2/NAME/manifests/REF */
    OG_R_BLOB,          /* /v2/NAME/blobs/DIGEST */
    OG_R_UPLOAD_START,  /* POST /v2/NAME/blobs/uploads/ */
    OG_R_UPLOAD,        /* /v2/NAME/blobs/uploads/ID */
    OG_R_REFERRERS,     /* GET /v2/NAME/referrers/DIGEST */
    OG_R_OPTIONS,       /* OPTIONS anything: CORS preflight, no identity needed */
    OG_R_OUTSIDE,       /* a path outside /v2 (e.g. /metrics); the caller decides */
};

struct og_route {
    int status;                 /* 0: classified; else 400, 404 or 405 */
    const char *reason;         /* static text explaining a refusal, or NULL */
    const char *error_code;     /* the OCI error code of a refusal where the status
                                   alone does not say it ("MANIFEST_UNKNOWN"), or NULL */
    enum og_method method;
    enum og_route_kind kind;
    unsigned action;            /* base action (enum og_action): GET/HEAD read,
                                   POST/PUT/PATCH create, DELETE delete. A manifest
                                   PUT is "create"; decide() turns it into update
                                   per tag with the facts. */
    char repo[OG_REPO_MAX + 1]; /* repository name, "" when none */
    size_t repo_len;
    char reference[OG_REF_MAX + 1]; /* manifest tag/digest, blob digest, upload id */
    bool ref_is_digest;
    bool has_mount, has_from, has_digest;
    char mount[OG_DIGEST_MAX + 1];   /* ?mount= (a digest) */
    char from[OG_REPO_MAX + 1];      /* ?from= (a repository) */
    size_t from_len;
    /* Tags a manifest PUT writes: the reference itself for a PUT by tag,
       the de-duplicated ?tag= values for a PUT by digest. Empty otherwise. */
    char tags[OG_MAX_TAGS][OG_TAG_MAX + 1];
    size_t ntags;
    const char *path;           /* the target's path, pointing into the input */
    size_t path_len;
};

enum og_method og_method_parse(const char *s, size_t len);
const char *og_method_name(enum og_method m);

/*
 * Classify one request. method/uri are the raw values the web server passed
 * (REQUEST_METHOD, REQUEST_URI with its query); content_type may be NULL.
 * Always fills *out completely; out->path points into uri.
 */
void og_route_classify(const char *method, size_t method_len,
                       const char *uri, size_t uri_len,
                       const char *content_type, size_t content_type_len,
                       struct og_route *out);

/* Grammar checks of the distribution spec, exposed for other parsers. */
bool og_valid_repo(const char *s, size_t len);
bool og_valid_tag(const char *s, size_t len);
bool og_valid_digest(const char *s, size_t len);

#endif
