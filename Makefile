# Panda build. `make` builds bin/panda-server and bin/panda-cli; `make run` and `make test`
# first install missing Debian packages (scripts/deps.sh).

CC       ?= cc
CSTD     := -std=c11 -D_GNU_SOURCE
WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
CFLAGS   ?= -O2 -g
LDLIBS   := -lcurl -lzstd -lsnappy -llz4 -lz -lpthread -lm
SAN      := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

SRC      := $(wildcard src/*.c)
LIB_SRC  := $(filter-out src/main.c,$(SRC))
CLI_SRC  := $(wildcard cli/*.c)
UNIT_SRC := $(filter-out tests/unit/test_cli_%.c,$(wildcard tests/unit/test_*.c))
CLI_UNIT := $(wildcard tests/unit/test_cli_*.c)
CLI_LIB  := $(filter-out cli/panda-cli.c cli/edit.c cli/assist.c,$(CLI_SRC))
# Only panda-cli links libedit (line editing); the server and the unit tests do not.
CLI_LIBS := -ledit $(LDLIBS)

REL_OBJ  := $(patsubst src/%.c,build/rel/%.o,$(SRC))
ASAN_OBJ := $(patsubst src/%.c,build/asan/%.o,$(SRC))
ASAN_LIB := $(filter-out build/asan/main.o,$(ASAN_OBJ))
UNIT_BIN := $(patsubst tests/unit/%.c,build/unit/%,$(UNIT_SRC) $(CLI_UNIT))

# `make V=1` shows full compiler command lines.
Q        := $(if $(V),,@)
PY       := /usr/bin/python3
PYTEST   := $(PY) -m pytest -q -p no:cacheprovider

.PHONY: all run test asan unit integration bench deps deps-test clean format

all: bin/panda-server bin/panda-cli bin/panda-check-wal bin/panda-check-parquet

deps:
	@scripts/deps.sh build

deps-test:
	@scripts/deps.sh test

bin/panda-server: $(REL_OBJ) | bin
	@echo "  LD    $@"
	$(Q)$(CC) $(CFLAGS) -o $@ $^ -ljemalloc $(LDLIBS)

bin/panda-server-asan: $(ASAN_OBJ) | bin
	@echo "  LD    $@"
	$(Q)$(CC) $(CFLAGS) $(SAN) -o $@ $^ $(LDLIBS)

CHECK_OBJ := $(addprefix build/rel/,walfmt.o crc32c.o buf.o alloc.o err.o util.o)

bin/panda-check-wal: tools/panda-check-wal.c $(CHECK_OBJ) $(wildcard src/*.h) | bin
	@echo "  CC    $@"
	$(Q)$(CC) $(CSTD) $(WARN) $(CFLAGS) -DPANDA_JEMALLOC -Isrc -o $@ $< $(CHECK_OBJ) -ljemalloc $(LDLIBS)

PQ_OBJ := $(addprefix build/rel/,pqread.o pqenc.o pqcodec.o thrift.o buf.o alloc.o err.o util.o)

bin/panda-check-parquet: tools/panda-check-parquet.c $(PQ_OBJ) $(wildcard src/*.h) | bin
	@echo "  CC    $@"
	$(Q)$(CC) $(CSTD) $(WARN) $(CFLAGS) -DPANDA_JEMALLOC -Isrc -o $@ $< $(PQ_OBJ) -ljemalloc $(LDLIBS)

PQ_ASAN_OBJ := $(addprefix build/asan/,pqread.o pqenc.o pqcodec.o thrift.o buf.o alloc.o err.o util.o)

bin/panda-check-parquet-asan: tools/panda-check-parquet.c $(PQ_ASAN_OBJ) $(wildcard src/*.h) | bin
	@echo "  CC    $@"
	$(Q)$(CC) $(CSTD) $(WARN) $(CFLAGS) $(SAN) -Isrc -o $@ $< $(PQ_ASAN_OBJ) $(LDLIBS)

# LD_PRELOAD shim that injects disk faults into the WAL's system calls (tests only).
build/faultfs.so: tests/faults/faultfs.c | build
	@echo "  CC    $@"
	$(Q)$(CC) $(CSTD) -Wall -Wextra -Werror $(CFLAGS) -fPIC -shared -o $@ $< -ldl -lpthread

bin/panda-cli: $(CLI_SRC) $(wildcard cli/*.h) | bin
	@echo "  CC    $@"
	$(Q)$(CC) $(CSTD) $(WARN) $(CFLAGS) -o $@ $(CLI_SRC) $(CLI_LIBS)

bin/panda-cli-asan: $(CLI_SRC) $(wildcard cli/*.h) | bin
	@echo "  CC    $@"
	$(Q)$(CC) $(CSTD) $(WARN) $(CFLAGS) $(SAN) -o $@ $(CLI_SRC) $(CLI_LIBS)

build/rel/%.o: src/%.c $(wildcard src/*.h) | build/rel
	@echo "  CC    $<"
	$(Q)$(CC) $(CSTD) $(WARN) $(CFLAGS) -DPANDA_JEMALLOC -c -o $@ $<

build/asan/%.o: src/%.c $(wildcard src/*.h) | build/asan
	@echo "  CC    $< (asan)"
	$(Q)$(CC) $(CSTD) $(WARN) $(CFLAGS) $(SAN) -DPANDA_DEBUG -c -o $@ $<

build/unit/%: tests/unit/%.c tests/unit/tap.h $(ASAN_LIB) | build/unit
	@echo "  CC    $@"
	$(Q)$(CC) $(CSTD) $(WARN) $(CFLAGS) $(SAN) -Isrc -o $@ $< $(ASAN_LIB) $(LDLIBS)

build/unit/test_cli_%: tests/unit/test_cli_%.c tests/unit/tap.h $(CLI_LIB) $(wildcard cli/*.h) | build/unit
	@echo "  CC    $@"
	$(Q)$(CC) $(CSTD) $(WARN) $(CFLAGS) $(SAN) -Icli -Itests/unit -o $@ $< $(CLI_LIB) $(LDLIBS)

bin build build/rel build/asan build/unit:
	mkdir -p $@

asan: bin/panda-server-asan bin/panda-cli-asan bin/panda-check-parquet-asan

run: deps all
	./bin/panda-server --port $${PANDA_PORT:-8080} --bind $${PANDA_BIND:-127.0.0.1} \
		--data-dir $${PANDA_DATA_DIR:-./data}

unit: $(UNIT_BIN)
	@tests/run-unit.sh $(UNIT_BIN)

# The integration suite runs twice: against the release build and against the ASan+UBSan
# build (whose sanitizer reports make the server's teardown assertion fail).
integration: all asan
	$(PYTEST) tests/integration
	PANDA_SERVER=$(CURDIR)/bin/panda-server-asan PANDA_CLI=$(CURDIR)/bin/panda-cli-asan \
		$(PYTEST) tests/integration

test: deps-test
	$(MAKE) all asan build/faultfs.so
	@tests/run-all.sh

bench: deps-test all
	bash bench/run.sh

format:
	clang-format -i src/*.c src/*.h cli/*.c cli/*.h tests/unit/*.c tests/unit/*.h

clean:
	rm -rf build bin
