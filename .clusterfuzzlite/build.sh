#!/bin/bash -eu
# Build every fuzz target the way ClusterFuzzLite / OSS-Fuzz expect:
# compile with $CC $CFLAGS, link with $CXX $CXXFLAGS $LIB_FUZZING_ENGINE, and
# put each target in $OUT with its .dict, .options and seed corpus zip.
# Verified locally with: scripts/cflite-check (same variables, clang).
# The differential target (*_diff_fuzzer) needs libetpan and is built by
# `make fuzz` only.
set -euo pipefail
SRC_DIR=${SRC:-.}/mailspec
[ -d "$SRC_DIR/parsers" ] || SRC_DIR=$(cd "$(dirname "$0")/.." && pwd)
cd "$SRC_DIR"
WORK=${WORK:-/tmp}/mailspec-cflite
rm -rf "$WORK"
mkdir -p "$WORK" "$OUT"

INC="-Iparsers/include -Ifuzz"
STD="-std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE"
objs=()
# The library and the shared fuzz helpers (every fuzz/*.c that is not a target
# or the standalone driver, as the Makefile's FUZZ_COMMON).
helpers=$(ls fuzz/*.c | grep -v -e '_fuzzer\.c$' -e '^fuzz/standalone\.c$')
for src in parsers/common/*.c parsers/smtp/*.c parsers/pop3/*.c parsers/imap/*.c $helpers; do
    [ -f "$src" ] || continue
    obj="$WORK/$(echo "$src" | tr / _).o"
    $CC $CFLAGS $STD $INC -c "$src" -o "$obj"
    objs+=("$obj")
done

# record_redact_fuzzer also links the recorder's redaction (conformance/, as
# the Makefile's REDACT_SRCS) and libcrypto (its base64).
redact_objs=()
for src in conformance/record_sanitize.c conformance/record_writer.c; do
    obj="$WORK/$(echo "$src" | tr / _).o"
    $CC $CFLAGS $STD $INC -Iconformance -c "$src" -o "$obj"
    redact_objs+=("$obj")
done

for src in fuzz/*_fuzzer.c; do
    name=$(basename "$src" .c)
    case $name in *_diff_fuzzer) continue ;; esac
    extra=()
    case $name in record_redact_fuzzer) extra=("${redact_objs[@]}" -lcrypto) ;; esac
    $CC $CFLAGS $STD $INC -Iconformance -c "$src" -o "$WORK/$name.o"
    $CXX $CXXFLAGS $LIB_FUZZING_ENGINE "$WORK/$name.o" "${objs[@]}" "${extra[@]}" -o "$OUT/$name"
    [ -f "fuzz/dict/$name.dict" ] && cp "fuzz/dict/$name.dict" "$OUT/$name.dict"
    [ -f "fuzz/$name.options" ] && cp "fuzz/$name.options" "$OUT/$name.options"
    seeds=()
    for d in "corpus/fuzz/$name" "corpus/regressions/$name"; do
        [ -d "$d" ] && seeds+=("$d")
    done
    if [ ${#seeds[@]} -gt 0 ]; then
        rm -f "$OUT/${name}_seed_corpus.zip"
        zip -q -j -r "$OUT/${name}_seed_corpus.zip" "${seeds[@]}"
    fi
done
