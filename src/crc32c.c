/* crc32c.c - CRC32C with SSE4.2 acceleration and a software fallback (see crc32c.h). */
#include "crc32c.h"

#include <string.h>

#define CRC32C_POLY 0x82F63B78u /* reflected Castagnoli polynomial */

static uint32_t table[256];
static int hw = -1; /* -1 unknown, 0 software, 1 SSE4.2 */

static void init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? (c >> 1) ^ CRC32C_POLY : c >> 1;
        table[i] = c;
    }
#if defined(__x86_64__)
    __builtin_cpu_init();
    hw = __builtin_cpu_supports("sse4.2") ? 1 : 0;
#else
    hw = 0;
#endif
}

static uint32_t sw_extend(uint32_t crc, const unsigned char *p, size_t n)
{
    while (n--)
        crc = table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) static uint32_t hw_extend(uint32_t crc, const unsigned char *p,
                                                            size_t n)
{
    uint64_t c = crc;
    while (n >= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        c = __builtin_ia32_crc32di(c, v);
        p += 8;
        n -= 8;
    }
    uint32_t c32 = (uint32_t)c;
    while (n--)
        c32 = __builtin_ia32_crc32qi(c32, *p++);
    return c32;
}
#endif

uint32_t crc32c_extend(uint32_t crc, const void *p, size_t n)
{
    if (hw < 0) init();
    crc = ~crc;
#if defined(__x86_64__)
    if (hw) return ~hw_extend(crc, p, n);
#endif
    return ~sw_extend(crc, p, n);
}

uint32_t crc32c_extend_sw(uint32_t crc, const void *p, size_t n)
{
    if (hw < 0) init();
    return ~sw_extend(~crc, p, n);
}

uint32_t crc32c(const void *p, size_t n)
{
    return crc32c_extend(0, p, n);
}

int crc32c_hw(void)
{
    if (hw < 0) init();
    return hw;
}
