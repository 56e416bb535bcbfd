/*
 * panda-check-parquet - checks that a Parquet file (a Panda snapshot, or a file with `key` and
 * `value` columns written by DuckDB, pyarrow, Spark, ...) is readable by Panda.
 *
 * Usage: panda-check-parquet [--dump] [--columns KEY,VALUE[,EXPIRE]] FILE
 *
 * Runs the server's own reader (pqr_read_file in src/pqread.c) over FILE, decoding every page
 * of the columns Panda loads, so it finds exactly what start-up would find. The summary goes to
 * stdout (to stderr with --dump), one `name: value` per line:
 *
 *   file: <path>
 *   bytes: <file size>
 *   rows: <rows>
 *   row_groups: <row groups>
 *   codec: <codec of the first column chunk, or "none">
 *   created_by: <writer, or "-">
 *   panda_format_version: <n>        (Panda snapshots only)
 *   panda_wal_lsn: <lsn>             (Panda snapshots only)
 *   status: ok
 *
 * --dump prints every row to stdout as `<key>\t<value>\t<expire_at_ms or ->`, key and value
 * escaped: printable ASCII as is, backslash as `\\`, every other byte as `\xHH`.
 *
 * --columns (for testing the reader against other writers' files) reads the named top-level
 * columns instead of key/value/expire_at_ms; EXPIRE may be INT32 or INT64, KEY may equal VALUE,
 * and an empty KEY or VALUE reads no column there. A null key or value is then printed as `\N`
 * instead of failing the read.
 *
 * Exit status: 0 every page decoded, 1 the file is damaged or unsupported (the reason goes to
 * stderr as "panda-check-parquet: FILE: <error>"), 2 bad usage or the file cannot be opened.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "pqcodec.h"
#include "pqread.h"

#define EXIT_OK      0
#define EXIT_DAMAGED 1
#define EXIT_USAGE   2

#define MAX_COLUMN_NAME 256

struct args {
    int dump;
    const char *path;
    int have_columns;
    char cols[3][MAX_COLUMN_NAME];
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: panda-check-parquet [--dump] [--columns KEY,VALUE[,EXPIRE]] FILE\n"
            "Checks that Panda can read a Parquet file: its key, value and expire_at_ms\n"
            "columns, every page of them. Prints a summary (rows, row groups, codec, writer,\n"
            "Panda metadata).\n"
            "  --dump      print every row as KEY<TAB>VALUE<TAB>EXPIRE (or -), bytes outside\n"
            "              printable ASCII as \\xHH, backslash as \\\\; the summary then goes to\n"
            "              stderr\n"
            "  --columns   read other top-level columns (testing); nulls print as \\N\n"
            "Exit status: 0 readable, 1 damaged or unsupported file, 2 bad usage or the file\n"
            "cannot be opened.\n");
}

/* Splits "k,v[,e]" into a->cols; an absent expire column becomes "". */
static int parse_columns(struct args *a, const char *spec)
{
    int n = 0;
    const char *p = spec;
    memset(a->cols, 0, sizeof(a->cols));
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (n == 3 || len >= MAX_COLUMN_NAME) return -1;
        memcpy(a->cols[n++], p, len);
        if (!comma) break;
        p = comma + 1;
    }
    a->have_columns = 1;
    return n >= 2 ? 0 : -1;
}

static int parse_args(int argc, char **argv, struct args *a)
{
    memset(a, 0, sizeof(*a));
    int i = 1;
    for (; i < argc && argv[i][0] == '-' && argv[i][1] != '\0'; i++) {
        if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        }
        if (strcmp(argv[i], "--dump") == 0)
            a->dump = 1;
        else if (strcmp(argv[i], "--columns") == 0 && i + 1 < argc) {
            if (parse_columns(a, argv[++i]) != 0) return -1;
        } else
            return -1;
    }
    if (i != argc - 1) return -1;
    a->path = argv[i];
    return 0;
}

static void put_escaped(FILE *f, const uint8_t *p, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        uint8_t c = p[i];
        if (c == '\\') {
            fputs("\\\\", f);
        } else if (c >= 0x20 && c < 0x7f) {
            putc(c, f);
        } else {
            char e[4] = {'\\', 'x', hex[c >> 4], hex[c & 15]};
            fwrite(e, 1, 4, f);
        }
    }
}

static int dump_row(void *ctx, const struct pqr_row *row, struct kv_err *err)
{
    FILE *f = ctx;
    (void)err;
    if (row->key_null)
        fputs("\\N", f);
    else
        put_escaped(f, row->key, row->klen);
    putc('\t', f);
    if (row->val_null)
        fputs("\\N", f);
    else
        put_escaped(f, row->val, row->vlen);
    if (row->has_expire)
        fprintf(f, "\t%lld\n", (long long)row->expire_at_ms);
    else
        fputs("\t-\n", f);
    return 0;
}

static void print_summary(FILE *f, const char *path, const struct pqr_info *in)
{
    fprintf(f, "file: %s\n", path);
    fprintf(f, "bytes: %llu\n", (unsigned long long)in->file_bytes);
    fprintf(f, "rows: %llu\n", (unsigned long long)in->rows);
    fprintf(f, "row_groups: %u\n", in->row_groups);
    fprintf(f, "codec: %s\n", in->codec < 0 ? "none" : pqc_name(in->codec));
    fprintf(f, "created_by: %s\n", in->created_by[0] ? in->created_by : "-");
    if (in->panda) {
        fprintf(f, "panda_format_version: %d\n", in->format_version);
        fprintf(f, "panda_wal_lsn: %llu\n", (unsigned long long)in->lsn);
    }
    fprintf(f, "status: ok\n");
}

int main(int argc, char **argv)
{
    static char obuf[1 << 16];
    struct args a;
    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        usage(stdout);
        return EXIT_OK;
    }
    if (parse_args(argc, argv, &a) != 0) {
        usage(stderr);
        return EXIT_USAGE;
    }
    setvbuf(stdout, obuf, _IOFBF, sizeof(obuf));
    struct pqr_opts o = {
        .key_col = a.cols[0], .value_col = a.cols[1], .expire_col = a.cols[2], .lenient = 1};
    struct pqr_info info;
    struct kv_err err = {0};
    int rc = pqr_read_file_opts(a.path, a.have_columns ? &o : NULL, a.dump ? dump_row : NULL,
                                stdout, &info, &err);
    if (rc != 0) {
        fflush(stdout);
        fprintf(stderr, "panda-check-parquet: %s: %s\n", a.path, err.msg);
        return err.code == KV_ESYS ? EXIT_USAGE : EXIT_DAMAGED;
    }
    print_summary(a.dump ? stderr : stdout, a.path, &info);
    return fflush(stdout) == 0 ? EXIT_OK : EXIT_USAGE;
}
