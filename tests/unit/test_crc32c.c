/* Unit tests of CRC32C (src/crc32c.c): check values, hardware vs software, chaining. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crc32c.h"
#include "tap.h"

#define RAND_LEN_MAX 300
#define OFFSET_MAX   16

/* A fixed xorshift generator, so a failure reproduces. */
static uint32_t rng_state = 0x2545F491u;

static uint32_t rng(void)
{
    uint32_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return rng_state = x;
}

static void fill_random(unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)rng();
}

static void test_check_values(void)
{
    ok(crc32c("123456789", 9) == 0xE3069283u, "crc32c(\"123456789\") == 0xE3069283");
    ok(crc32c_extend_sw(0, "123456789", 9) == 0xE3069283u, "software check value");
    ok(crc32c("", 0) == 0, "empty input is 0");
    ok(crc32c_extend(0x12345678u, "x", 0) == 0x12345678u, "extending by nothing keeps the crc");

    unsigned char zeros[32], ones[32];
    memset(zeros, 0, sizeof(zeros));
    memset(ones, 0xff, sizeof(ones));
    /* RFC 3720 (iSCSI) B.4 test vectors. */
    ok(crc32c(zeros, 32) == 0x8A9136AAu, "32 zero bytes (RFC 3720)");
    ok(crc32c(ones, 32) == 0x62A8AB43u, "32 0xff bytes (RFC 3720)");
    unsigned char inc[32];
    for (int i = 0; i < 32; i++)
        inc[i] = (unsigned char)i;
    ok(crc32c(inc, 32) == 0x46DD794Eu, "32 incrementing bytes (RFC 3720)");
}

/* Hardware (if present) and software agree on every length, at every alignment. */
static void test_hw_vs_sw(void)
{
    unsigned char *mem = malloc(RAND_LEN_MAX + OFFSET_MAX);
    fill_random(mem, RAND_LEN_MAX + OFFSET_MAX);
    int bad_len = -1, bad_off = -1;
    for (int len = 0; len <= RAND_LEN_MAX; len++) {
        for (int off = 0; off < OFFSET_MAX; off++) {
            if (off + len > RAND_LEN_MAX + OFFSET_MAX) break;
            const unsigned char *p = mem + off;
            if (crc32c(p, (size_t)len) != crc32c_extend_sw(0, p, (size_t)len) && bad_len < 0) {
                bad_len = len;
                bad_off = off;
            }
        }
    }
    ok(bad_len < 0, "hardware (hw=%d) and software agree on lengths 0..%d, offsets 0..%d",
       crc32c_hw(), RAND_LEN_MAX, OFFSET_MAX - 1);
    if (bad_len >= 0) printf("#   first mismatch: len %d offset %d\n", bad_len, bad_off);
    free(mem);
}

/* crc32c(a+b) == crc32c_extend(crc32c(a), b) for every split point, hw and sw. */
static void test_chaining(void)
{
    unsigned char data[RAND_LEN_MAX];
    fill_random(data, sizeof(data));
    uint32_t whole = crc32c(data, sizeof(data));
    int bad_hw = 0, bad_sw = 0;
    for (size_t cut = 0; cut <= sizeof(data); cut++) {
        uint32_t a = crc32c(data, cut);
        if (crc32c_extend(a, data + cut, sizeof(data) - cut) != whole) bad_hw++;
        uint32_t s = crc32c_extend_sw(0, data, cut);
        if (crc32c_extend_sw(s, data + cut, sizeof(data) - cut) != whole) bad_sw++;
    }
    ok(bad_hw == 0, "crc32c_extend chaining equals one-shot at every split");
    ok(bad_sw == 0, "crc32c_extend_sw chaining equals one-shot at every split");

    uint32_t c = 0;
    for (size_t i = 0; i < sizeof(data); i++)
        c = crc32c_extend(c, data + i, 1);
    ok(c == whole, "byte-at-a-time chaining equals one-shot");
    uint32_t d = crc32c_extend(crc32c_extend(crc32c(data, 7), data + 7, 100), data + 107,
                               sizeof(data) - 107);
    ok(d == whole, "three-piece chaining equals one-shot");
}

int main(void)
{
    test_check_values();
    test_hw_vs_sw();
    test_chaining();
    return done();
}
