#!/bin/bash
# Rebuilds the corex objects and the recorded libbpf results (needs clang-19,
# python3 and libbpf.so.1; libbpf's relocation runs inside bpf_object__load,
# so this needs root for bpf()). The tests only read the committed outputs.
set -euo pipefail
export LC_ALL=C
cd "$(dirname "$0")"
for n in corex_local corex_target_a corex_target_b corex_target_c; do
  clang-19 -target bpf -O2 -g -mcpu=v3 -fdebug-prefix-map="$PWD"=. -c $n.c -o $n.o
done
for t in a b c; do
  python3 ../../tools/libbpf_relo.py corex_local.o corex_target_$t.o | sort > corex_target_$t.libbpf.txt
done
