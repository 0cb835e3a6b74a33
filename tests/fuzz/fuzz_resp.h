/*
 * fuzz_resp.h - shared by the fuzz targets that feed Redis replies (RESP) to
 * hiredis's reader: inputs announcing huge arrays or strings are skipped, so
 * the fuzzer spends its time on the parsers, not on hiredis's allocations.
 */
#ifndef OCIGATE_FUZZ_RESP_H
#define OCIGATE_FUZZ_RESP_H

#include <stddef.h>
#include <stdint.h>

/* Any "*N" / "$N" header announcing an N above 65536? */
static inline int announces_too_much(const uint8_t *d, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (d[i] != '*' && d[i] != '$')
            continue;
        size_t j = i + 1;
        unsigned long long v = 0;
        if (j < n && d[j] == '-')
            j++;
        while (j < n && d[j] >= '0' && d[j] <= '9' && v <= 65536)
            v = v * 10 + (d[j++] - '0');
        if (v > 65536)
            return 1;
    }
    return 0;
}

#endif
