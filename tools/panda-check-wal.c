/*
 * panda-check-wal - checks a Panda write-ahead log (kv_database.wal) offline.
 *
 * Usage: panda-check-wal FILE
 *
 * Maps FILE read-only and runs the server's own reader over it (walf_scan in src/walfmt.c,
 * format in docs/FORMATS.md "Write-ahead log"), so it finds exactly the damage that recovery
 * would find. Results go to stdout, one `name: value` per line:
 *
 *   file: <path>
 *   size: <bytes>
 *   records: <good records from the start>
 *   last_lsn: <LSN of the last good record, 0 if none>
 *   status: ok                                  (clean file), or
 *   damage: torn-tail | corrupt-middle | bad-header
 *   first_bad_offset: <byte offset of the first bad record>    (when damaged)
 *   expected_lsn: <the LSN expected there>                     (when damaged)
 *   next_valid_offset: <offset of a valid later record>        (corrupt-middle only)
 *
 * Exit status: 0 clean, 1 torn tail (recovery truncates it and starts), 2 corruption in the
 * middle (recovery refuses to start), 3 bad usage, unreadable file or bad file header. A
 * 0-byte file has a bad header: the server writes the 16-byte header when it creates the log.
 * Errors go to stderr. Check a copy, or the log of a stopped server: a file truncated while it
 * is mapped would kill this process with SIGBUS.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "walfmt.h"

#define EXIT_CLEAN      0
#define EXIT_TORN       1
#define EXIT_CORRUPT    2
#define EXIT_UNREADABLE 3

/* A read-only image of the whole file; p is NULL for an empty file. */
struct wal_map {
    const unsigned char *p;
    size_t n;
};

static void usage(FILE *f)
{
    fprintf(f, "usage: panda-check-wal FILE\n"
               "Checks a Panda write-ahead log. Exit status: 0 clean, 1 torn tail,\n"
               "2 corruption in the middle, 3 unreadable file or bad header.\n");
}

static int map_fd(int fd, const char *path, struct wal_map *m, struct kv_err *err)
{
    struct stat st;
    if (fstat(fd, &st) != 0) return kv_err_sys(err, "cannot stat %s", path);
    if (!S_ISREG(st.st_mode)) return kv_err_set(err, KV_EINVAL, "%s: not a regular file", path);
    if ((uint64_t)st.st_size > SIZE_MAX)
        return kv_err_set(err, KV_ELIMIT, "%s: too large to map", path);
    m->n = (size_t)st.st_size;
    m->p = NULL;
    if (m->n == 0) return 0; /* mmap refuses empty mappings */
    void *p = mmap(NULL, m->n, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) return kv_err_sys(err, "cannot map %s", path);
    madvise(p, m->n, MADV_SEQUENTIAL);
    m->p = p;
    return 0;
}

/* Maps path read-only into m. Returns 0, or -1 with err filled. */
static int map_file(const char *path, struct wal_map *m, struct kv_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return kv_err_sys(err, "cannot open %s", path);
    int rc = map_fd(fd, path, m, err);
    close(fd); /* the mapping outlives the descriptor */
    return rc;
}

static void unmap_file(struct wal_map *m)
{
    if (m->p) munmap((void *)m->p, m->n);
    m->p = NULL;
}

static const char *damage_name(int damage)
{
    switch (damage) {
    case WALF_TORN:
        return "torn-tail";
    case WALF_CORRUPT:
        return "corrupt-middle";
    default:
        return "bad-header";
    }
}

static int exit_status(int damage)
{
    switch (damage) {
    case WALF_CLEAN:
        return EXIT_CLEAN;
    case WALF_TORN:
        return EXIT_TORN;
    case WALF_CORRUPT:
        return EXIT_CORRUPT;
    default:
        return EXIT_UNREADABLE;
    }
}

static void print_report(const char *path, size_t size, const struct walf_scan *s)
{
    printf("file: %s\n", path);
    printf("size: %zu\n", size);
    printf("records: %llu\n", (unsigned long long)s->records);
    printf("last_lsn: %llu\n", (unsigned long long)s->last_lsn);
    if (s->damage == WALF_CLEAN) {
        printf("status: ok\n");
        return;
    }
    printf("damage: %s\n", damage_name(s->damage));
    /* walf_scan leaves the offsets at 0 for a bad header, which is where the damage is. */
    printf("first_bad_offset: %zu\n", s->bad_offset);
    printf("expected_lsn: %llu\n", (unsigned long long)s->last_lsn + 1);
    if (s->damage == WALF_CORRUPT) printf("next_valid_offset: %zu\n", s->next_valid);
}

/* Explains on stderr what the damage means for the server. */
static void print_diagnosis(const char *path, size_t size, const struct walf_scan *s)
{
    if (s->damage == WALF_BADHEADER)
        fprintf(stderr,
                "panda-check-wal: %s: bad file header (want %d bytes: magic %s, version %d, "
                "CRC32C; the file has %zu bytes)\n",
                path, WALF_FILE_HDR, WALF_MAGIC, WALF_VERSION, size);
    else if (s->damage == WALF_CORRUPT)
        fprintf(stderr,
                "panda-check-wal: %s: corrupt record at offset %zu (LSN %llu) with a "
                "valid record at offset %zu after it\n",
                path, s->bad_offset, (unsigned long long)s->bad_lsn, s->next_valid);
}

int main(int argc, char **argv)
{
    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        usage(stdout);
        return EXIT_CLEAN;
    }
    int arg = argc == 3 && strcmp(argv[1], "--") == 0 ? 2 : 1;
    if (argc != arg + 1 || (arg == 1 && argv[1][0] == '-' && argv[1][1] != '\0')) {
        usage(stderr);
        return EXIT_UNREADABLE;
    }
    const char *path = argv[arg];
    struct kv_err err;
    struct wal_map m = {NULL, 0};
    if (map_file(path, &m, &err) != 0) {
        fprintf(stderr, "panda-check-wal: %s\n", err.msg);
        return EXIT_UNREADABLE;
    }
    struct walf_scan s;
    walf_scan(m.p, m.n, NULL, NULL, &s);
    kv_assert(s.damage != WALF_CLEAN || s.good_end == m.n);
    print_report(path, m.n, &s);
    print_diagnosis(path, m.n, &s);
    unmap_file(&m);
    return exit_status(s.damage);
}
