# mailspec -- see README.md. Targets:
#   make            build/mailspec and build/libmailspec.a
#   make test       install deps, unit tests (ASan+UBSan), fuzz corpus replay, e2e
#   make unit       unit tests only (ASan+UBSan build)
#   make e2e        pytest end-to-end tests only
#   make fuzz       libFuzzer targets into build/fuzz/ (clang)
#   make fuzz-run TARGET=name SECONDS=n
#   make fuzz-smoke every target for FUZZ_SMOKE_SECONDS each
#   make lint       clang-format check, banned functions, cppcheck
#   make coverage   line/branch coverage of parsers/ from unit tests + corpora
#   make coverage-fuzz  the same from the corpora alone (no unit tests)
#   make bench      benchmarks (bench/)
#   make demo       start the lab, certify IMAP/POP3/SMTP on all transports, reports
#   make install    PREFIX=/usr/local [DESTDIR=...]: binary, man page, suites
#   make uninstall  remove what install installed
#   make clean

CC ?= cc
BUILD ?= build
PYTHON ?= /usr/bin/python3

WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
        -Wvla -Wformat=2 -Wimplicit-fallthrough -Wconversion -Wno-sign-conversion
BASE_CFLAGS := -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE $(WARN) \
               -Iparsers/include -Iconformance
OPT ?= -O2 -g
CFLAGS ?=
ALL_CFLAGS = $(BASE_CFLAGS) $(OPT) $(CFLAGS) -MMD -MP

SAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all \
             -fno-omit-frame-pointer

LIB_SRCS := $(sort $(wildcard parsers/common/*.c parsers/smtp/*.c parsers/pop3/*.c \
                              parsers/imap/*.c))
RUN_SRCS := $(sort $(filter-out conformance/main.c,$(wildcard conformance/*.c)))
UNIT_HARNESS := $(sort $(wildcard tests/unit/harness*.c))
UNIT_SRCS := $(sort $(filter-out $(UNIT_HARNESS),$(wildcard tests/unit/test_*.c)))
# Differential targets link libetpan (bench/etpan.c) and are built by their own rules.
DIFF_SRCS := $(sort $(wildcard fuzz/*_diff_fuzzer.c))
DIFF_NAMES := $(patsubst fuzz/%.c,%,$(DIFF_SRCS))
FUZZ_SRCS := $(sort $(filter-out $(DIFF_SRCS),$(wildcard fuzz/*_fuzzer.c)))
FUZZ_NAMES := $(patsubst fuzz/%.c,%,$(FUZZ_SRCS))
FUZZ_COMMON := $(sort $(filter-out $(FUZZ_SRCS) $(DIFF_SRCS) fuzz/standalone.c,$(wildcard fuzz/*.c)))

LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
RUN_OBJS := $(RUN_SRCS:%.c=$(BUILD)/obj/%.o)
LIBS := -lssl -lcrypto

.SECONDARY:

.PHONY: all test unit e2e deps fuzz fuzz-run fuzz-smoke fuzz-replay lint bench clean \
        format coverage coverage-fuzz demo

all: $(BUILD)/mailspec $(BUILD)/libmailspec.a

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/libmailspec.a: $(LIB_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/librunner.a: $(RUN_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/mailspec: $(BUILD)/obj/conformance/main.o $(BUILD)/librunner.a $(BUILD)/libmailspec.a
	$(CC) $(OPT) $(CFLAGS) -o $@ $^ $(LIBS)

# ---- sanitizer build for unit tests and corpus replay ----
SAN_BUILD := $(BUILD)/san
SAN_LIB_OBJS := $(LIB_SRCS:%.c=$(SAN_BUILD)/obj/%.o)
SAN_RUN_OBJS := $(RUN_SRCS:%.c=$(SAN_BUILD)/obj/%.o)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(SAN_BUILD)/unit/%)
REPLAY_BINS := $(FUZZ_NAMES:%=$(SAN_BUILD)/replay/%)

$(SAN_BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(SAN_FLAGS) $(CFLAGS) -Itests/unit -Ifuzz -MMD -MP -c $< -o $@

$(SAN_BUILD)/unit/%: $(SAN_BUILD)/obj/tests/unit/%.o $(UNIT_HARNESS:%.c=$(SAN_BUILD)/obj/%.o) \
                     $(FUZZ_COMMON:%.c=$(SAN_BUILD)/obj/%.o) $(SAN_RUN_OBJS) $(SAN_LIB_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(SAN_FLAGS) -o $@ $^ -lcmocka $(LIBS)

$(SAN_BUILD)/replay/%: $(SAN_BUILD)/obj/fuzz/%.o $(SAN_BUILD)/obj/fuzz/standalone.o \
                       $(FUZZ_COMMON:%.c=$(SAN_BUILD)/obj/%.o) $(SAN_LIB_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(SAN_FLAGS) -o $@ $^

$(DIFF_NAMES:%=$(SAN_BUILD)/replay/%): $(SAN_BUILD)/replay/%: $(SAN_BUILD)/obj/fuzz/%.o \
    $(SAN_BUILD)/obj/fuzz/standalone.o $(SAN_BUILD)/obj/bench/etpan.o $(SAN_LIB_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(SAN_FLAGS) -o $@ $^ -letpan

unit: $(UNIT_BINS)
	@set -e; pass=0; fail=0; for t in $(UNIT_BINS); do \
	  echo "== $$t"; \
	  if ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 $$t; then \
	    pass=$$((pass+1)); else fail=$$((fail+1)); fi; \
	done; echo "unit: $$pass passed, $$fail failed"; test $$fail -eq 0

# Replay every seed and regression input through every target under sanitizers.
fuzz-replay: $(REPLAY_BINS) $(DIFF_NAMES:%=$(SAN_BUILD)/replay/%)
	@set -e; for t in $(FUZZ_NAMES); do \
	  dirs=""; for d in corpus/fuzz/$$t corpus/regressions/$$t; do \
	    if [ -d $$d ]; then dirs="$$dirs $$d"; fi; done; \
	  if [ -z "$$dirs" ]; then echo "fuzz-replay: $$t has no corpus" >&2; exit 1; fi; \
	  $(SAN_BUILD)/replay/$$t $$dirs; \
	done
	@set -e; for t in $(DIFF_NAMES); do \
	  ASAN_OPTIONS=detect_leaks=0 $(SAN_BUILD)/replay/$$t corpus/fuzz/$$t corpus/regressions/$$t; done

e2e: all
	cd tests/e2e && MAILSPEC=$(CURDIR)/$(BUILD)/mailspec $(PYTHON) -m pytest -q -ra .

deps:
	@scripts/install-deps.sh

test: deps
	$(MAKE) all
	$(MAKE) unit
	$(MAKE) fuzz-replay
	$(MAKE) e2e

# ---- libFuzzer ----
FUZZ_CC ?= clang
FUZZ_FLAGS := -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
FUZZ_BUILD := $(BUILD)/fuzz
FUZZ_BINS := $(FUZZ_NAMES:%=$(FUZZ_BUILD)/%) $(DIFF_NAMES:%=$(FUZZ_BUILD)/%)

$(FUZZ_BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(BASE_CFLAGS) -Ifuzz -O1 -g -fsanitize=fuzzer-no-link,address,undefined \
	  -fno-sanitize-recover=all -MMD -MP -c $< -o $@

$(FUZZ_BUILD)/%: $(FUZZ_BUILD)/obj/fuzz/%.o $(FUZZ_COMMON:%.c=$(FUZZ_BUILD)/obj/%.o) \
                 $(LIB_SRCS:%.c=$(FUZZ_BUILD)/obj/%.o)
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $^

$(DIFF_NAMES:%=$(FUZZ_BUILD)/%): $(FUZZ_BUILD)/%: $(FUZZ_BUILD)/obj/fuzz/%.o \
    $(FUZZ_BUILD)/obj/bench/etpan.o $(LIB_SRCS:%.c=$(FUZZ_BUILD)/obj/%.o)
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $^ -letpan

fuzz: $(FUZZ_BINS)

SECONDS ?= 60
fuzz-run: $(FUZZ_BUILD)/$(TARGET)
	@test -n "$(TARGET)" || { echo "usage: make fuzz-run TARGET=name SECONDS=n" >&2; exit 2; }
	BUILD=$(BUILD) scripts/fuzz-run $(TARGET) $(SECONDS)

FUZZ_SMOKE_SECONDS ?= 20
# a fixed seed and a cap on inputs: the smoke run is a gate that repeats (a
# faster machine stops at the same input, a slower one runs a prefix of the
# same inputs); open-ended search is make fuzz-run's
FUZZ_SMOKE_SEED ?= 1
FUZZ_SMOKE_RUNS ?= 100000
fuzz-smoke: $(FUZZ_BINS)
	@mkdir -p $(FUZZ_BUILD)/smoke; pass=0; fail=0; for t in $(FUZZ_NAMES) $(DIFF_NAMES); do \
	  rm -rf $(FUZZ_BUILD)/smoke/corpus-$$t; \
	  if BUILD=$(BUILD) FUZZ_SEED=$(FUZZ_SMOKE_SEED) FUZZ_RUNS=$(FUZZ_SMOKE_RUNS) FUZZ_WORK=$(FUZZ_BUILD)/smoke/corpus-$$t scripts/fuzz-run $$t $(FUZZ_SMOKE_SECONDS) > $(FUZZ_BUILD)/smoke/$$t.log 2>&1; \
	  then pass=$$((pass+1)); \
	    echo "fuzz-smoke: $$t ok ($$(grep -E '^#[0-9]+' $(FUZZ_BUILD)/smoke/$$t.log | tail -1 | cut -c1-90))"; \
	  else fail=$$((fail+1)); echo "fuzz-smoke: $$t FAILED"; tail -40 $(FUZZ_BUILD)/smoke/$$t.log; fi; \
	done; echo "fuzz-smoke: $$pass passed, $$fail failed"; test $$fail -eq 0

# ---- coverage (clang source-based): unit tests + every corpus, parsers/ only ----
COV_BUILD := $(BUILD)/cov
COV_FLAGS := -O0 -g -fprofile-instr-generate -fcoverage-mapping
COV_LIB_OBJS := $(LIB_SRCS:%.c=$(COV_BUILD)/obj/%.o)
COV_RUN_OBJS := $(RUN_SRCS:%.c=$(COV_BUILD)/obj/%.o)
COV_UNIT := $(UNIT_SRCS:tests/unit/%.c=$(COV_BUILD)/unit/%)
COV_REPLAY := $(FUZZ_NAMES:%=$(COV_BUILD)/replay/%)

$(COV_BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	clang $(BASE_CFLAGS) $(COV_FLAGS) -Itests/unit -Ifuzz -MMD -MP -c $< -o $@

$(COV_BUILD)/unit/%: $(COV_BUILD)/obj/tests/unit/%.o $(UNIT_HARNESS:%.c=$(COV_BUILD)/obj/%.o) \
                     $(FUZZ_COMMON:%.c=$(COV_BUILD)/obj/%.o) $(COV_RUN_OBJS) $(COV_LIB_OBJS)
	@mkdir -p $(dir $@)
	clang $(COV_FLAGS) -o $@ $^ -lcmocka $(LIBS)

$(COV_BUILD)/replay/%: $(COV_BUILD)/obj/fuzz/%.o $(COV_BUILD)/obj/fuzz/standalone.o \
                       $(FUZZ_COMMON:%.c=$(COV_BUILD)/obj/%.o) $(COV_LIB_OBJS)
	@mkdir -p $(dir $@)
	clang $(COV_FLAGS) -o $@ $^

coverage: $(COV_UNIT) $(COV_REPLAY)
	@rm -rf $(COV_BUILD)/prof && mkdir -p $(COV_BUILD)/prof
	@for t in $(COV_UNIT); do LLVM_PROFILE_FILE=$(COV_BUILD)/prof/%p-%m.profraw $$t >/dev/null 2>&1 || \
	  echo "coverage: $$t failed (run make unit)" >&2; done
	@for t in $(FUZZ_NAMES); do dirs=""; for d in corpus/fuzz/$$t corpus/regressions/$$t; do \
	  [ -d $$d ] && dirs="$$dirs $$d"; done; \
	  LLVM_PROFILE_FILE=$(COV_BUILD)/prof/%p-%m.profraw $(COV_BUILD)/replay/$$t $$dirs 2>/dev/null; done
	llvm-profdata merge -sparse $(COV_BUILD)/prof/*.profraw -o $(COV_BUILD)/all.profdata
	llvm-cov report $(firstword $(COV_UNIT)) $(patsubst %,-object %,$(wordlist 2,999,$(COV_UNIT)) $(COV_REPLAY)) \
	  -instr-profile=$(COV_BUILD)/all.profdata $(LIB_SRCS) | tee $(COV_BUILD)/report.txt
	llvm-cov show $(firstword $(COV_UNIT)) $(patsubst %,-object %,$(wordlist 2,999,$(COV_UNIT)) $(COV_REPLAY)) \
	  -instr-profile=$(COV_BUILD)/all.profdata -format=html -output-dir=$(COV_BUILD)/html $(LIB_SRCS)
	@echo "coverage: $(COV_BUILD)/report.txt, $(COV_BUILD)/html/index.html"

# The corpora alone (no unit tests): what fuzzing reaches, with the same replay drivers.
coverage-fuzz: $(COV_REPLAY)
	@rm -rf $(COV_BUILD)/fuzz-prof && mkdir -p $(COV_BUILD)/fuzz-prof
	@for t in $(FUZZ_NAMES); do dirs=""; for d in corpus/fuzz/$$t corpus/regressions/$$t; do \
	  [ -d $$d ] && dirs="$$dirs $$d"; done; \
	  LLVM_PROFILE_FILE=$(COV_BUILD)/fuzz-prof/%p-%m.profraw $(COV_BUILD)/replay/$$t $$dirs 2>/dev/null; done
	llvm-profdata merge -sparse $(COV_BUILD)/fuzz-prof/*.profraw -o $(COV_BUILD)/fuzz.profdata
	llvm-cov report $(firstword $(COV_REPLAY)) $(patsubst %,-object %,$(wordlist 2,999,$(COV_REPLAY))) \
	  -instr-profile=$(COV_BUILD)/fuzz.profdata $(LIB_SRCS) | tee $(COV_BUILD)/fuzz-report.txt
	llvm-cov show $(firstword $(COV_REPLAY)) $(patsubst %,-object %,$(wordlist 2,999,$(COV_REPLAY))) \
	  -instr-profile=$(COV_BUILD)/fuzz.profdata -format=html -output-dir=$(COV_BUILD)/fuzz-html $(LIB_SRCS)
	@echo "coverage-fuzz: $(COV_BUILD)/fuzz-report.txt, $(COV_BUILD)/fuzz-html/index.html"

# ---- quality ----
C_FILES = $(shell git ls-files '*.c' '*.h' 2>/dev/null | grep -v '^parsers/common/ctype.c$$')

lint:
	scripts/lint

format:
	clang-format -i $(C_FILES)

bench:
	$(MAKE) -C bench

# Certify the local lab's IMAP, POP3 and SMTP over every transport (scripts/demo).
demo: deps all
	BUILD=$(BUILD) scripts/demo

clean:
	rm -rf $(BUILD)

# ---- install: the binary finds its suites at ../share/mailspec/suites ----
PREFIX ?= /usr/local
DESTDIR ?=
BINDIR = $(DESTDIR)$(PREFIX)/bin
MAN1DIR = $(DESTDIR)$(PREFIX)/share/man/man1
SUITEDIR = $(DESTDIR)$(PREFIX)/share/mailspec/suites
SUITE_PROTOS := imap pop3 smtp

.PHONY: install uninstall
install: $(BUILD)/mailspec
	install -d $(BINDIR) $(MAN1DIR) $(SUITE_PROTOS:%=$(SUITEDIR)/%)
	install -m 755 $(BUILD)/mailspec $(BINDIR)/mailspec
	install -m 644 docs/mailspec.1 $(MAN1DIR)/mailspec.1
	@set -e; for p in $(SUITE_PROTOS); do \
	  echo "install -m 644 conformance/suites/$$p/*.session $(SUITEDIR)/$$p/"; \
	  rm -f $(SUITEDIR)/$$p/*.session; \
	  install -m 644 conformance/suites/$$p/*.session $(SUITEDIR)/$$p/; done

uninstall:
	rm -f $(BINDIR)/mailspec $(MAN1DIR)/mailspec.1
	rm -rf $(DESTDIR)$(PREFIX)/share/mailspec

-include $(shell find $(BUILD) -type f -name '*.d' 2>/dev/null)

# ---- record_redact_fuzzer: the recorder's redaction (conformance/) and OpenSSL ----
REDACT_SRCS := conformance/record_sanitize.c conformance/record_writer.c
REDACT_LIBS := $(shell $(CC) -print-file-name=libcrypto.so)
$(FUZZ_BUILD)/record_redact_fuzzer: $(REDACT_SRCS:%.c=$(FUZZ_BUILD)/obj/%.o) $(REDACT_LIBS)
$(SAN_BUILD)/replay/record_redact_fuzzer: $(REDACT_SRCS:%.c=$(SAN_BUILD)/obj/%.o) $(REDACT_LIBS)
$(COV_BUILD)/replay/record_redact_fuzzer: $(REDACT_SRCS:%.c=$(COV_BUILD)/obj/%.o) $(REDACT_LIBS)

# ---- serve's client tests (docs/serve.md), installed beside the suites ----
CLIENTDIR = $(DESTDIR)$(PREFIX)/share/mailspec/clients
.PHONY: install-clients
install: install-clients
install-clients:
	@set -e; for p in imap pop3 smtp; do \
	  install -d $(CLIENTDIR)/$$p; rm -f $(CLIENTDIR)/$$p/*.session; \
	  install -m 644 conformance/clients/$$p/*.session $(CLIENTDIR)/$$p/; done
