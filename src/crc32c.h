/*
 * crc32c.h - CRC32C (Castagnoli), the checksum of every WAL record.
 *
 * Uses the SSE4.2 crc32 instruction when the CPU has it (checked once, at the first call)
 * and a table-driven software version otherwise; both give identical results.
 * crc32c_extend continues a checksum over more bytes: crc32c(a+b) =
 * crc32c_extend(crc32c(a), b). Pure functions; thread-safe once crc32c_hw() has been called
 * (the server calls it at start-up, before any thread exists).
 */
#ifndef PANDA_CRC32C_H
#define PANDA_CRC32C_H

#include <stddef.h>
#include <stdint.h>

uint32_t crc32c(const void *p, size_t n);
uint32_t crc32c_extend(uint32_t crc, const void *p, size_t n);
/* The software version alone, for tests that compare the two. */
uint32_t crc32c_extend_sw(uint32_t crc, const void *p, size_t n);
/* 1 if the hardware instruction is used. Initialises the tables. */
int crc32c_hw(void);

#endif
