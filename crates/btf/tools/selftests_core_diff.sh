#!/bin/bash
# Differential check of our CO-RE resolver against the system libbpf on the
# kernel's own CO-RE selftests: builds tools/testing/selftests/bpf/progs
# test_core_reloc_*.c (and the btf__core_reloc_* target objects) from a kernel
# tree, then compares, for every local object x target pair (including
# vmlinux), the patches libbpf logs with the patches we make.
# Needs: clang-19, bpftool, python3, libbpf.so.1 with headers, root (bpf()).
# Usage: KSRC=/path/to/linux crates/btf/tools/selftests_core_diff.sh
set -euo pipefail
export LC_ALL=C
KSRC=${KSRC:-/work/kernel-src/linux}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
P=$KSRC/tools/testing/selftests/bpf/progs
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
cd "$W"
(cd "$ROOT" && cargo build -q -p bpfvet-btf --release --example core_diff)
tool=$ROOT/target/release/examples/core_diff
bpftool btf dump file /sys/kernel/btf/vmlinux format c > vmlinux.h
mkdir -p inc/bpf
cp /usr/include/bpf/bpf_helper_defs.h inc/bpf/
cp "$KSRC"/tools/lib/bpf/*.h inc/bpf/
for f in "$P"/test_core_reloc_*.c "$P"/btf__core_reloc_*.c "$P"/core_kern.c \
         "$P"/test_core_read_macros.c "$P"/test_core_retro.c; do
  clang-19 -target bpf -O2 -g -mcpu=v3 -D__TARGET_ARCH_x86 -I. -Iinc -I"$P" \
    -I"$KSRC"/tools/testing/selftests/bpf -I/usr/include/x86_64-linux-gnu \
    -c "$f" -o "$(basename "$f" .c).o" 2>/dev/null || echo "skip $(basename "$f")"
done
same=0; diff=0
for l in test_core_reloc_*.o core_kern.o test_core_read_macros.o test_core_retro.o; do
  [ -e "$l" ] || continue
  x=${l#test_core_reloc_}; x=${x%.o}; base=${x%_direct}; base=${base%_probed}
  targets="/sys/kernel/btf/vmlinux"
  for t in btf__core_reloc_"${base}"*.o; do [ -e "$t" ] && targets="$targets $t"; done
  for t in $targets; do
    a=$(python3 "$HERE"/libbpf_relo.py "$l" "$t" 2>/dev/null | sort)
    b=$("$tool" "$l" "$t" 2>/dev/null | sort)
    if [ "$a" == "$b" ]; then same=$((same+1)); else
      diff=$((diff+1)); echo "DIFF $l $t"; diff <(echo "$a") <(echo "$b") | head -6 || true
    fi
  done
done
echo "$same passed, $diff failed"
[ "$diff" -eq 0 ]
