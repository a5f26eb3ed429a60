# Oracle for CO-RE differential checks: runs the system libbpf's relocation
# (inside bpf_object__load, so root is needed) on a BPF object, with an optional
# custom target BTF (an ELF object or raw BTF; "vmlinux" or nothing = the
# kernel's), captures libbpf's debug log through its print callback and prints
# one line per patch: `PROG INSN: imm V | off V | mem_sz V | poison | ERROR`.
# Usage: python3 libbpf_relo.py LOCAL.o [TARGET] [-v]
import ctypes, sys, re
lib = ctypes.CDLL("libbpf.so.1")
libc = ctypes.CDLL(None)
lines = []
PRINT = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p)
buf = ctypes.create_string_buffer(8192)
def cb(level, fmt, va):
    libc.vsnprintf(buf, 8192, fmt, ctypes.c_void_p(va))
    lines.extend(buf.value.decode(errors="replace").splitlines())
    return 0
cbf = PRINT(cb)
lib.libbpf_set_print(cbf)
class Opts(ctypes.Structure):
    _fields_ = [("sz", ctypes.c_size_t), ("object_name", ctypes.c_char_p), ("relaxed_maps", ctypes.c_bool),
                ("pin_root_path", ctypes.c_char_p), ("stub", ctypes.c_uint32), ("kconfig", ctypes.c_char_p),
                ("btf_custom_path", ctypes.c_char_p)]
opts = Opts()
opts.sz = ctypes.sizeof(Opts)
if len(sys.argv) > 2 and sys.argv[2] not in ("vmlinux", "-v"):
    opts.btf_custom_path = sys.argv[2].encode()
lib.bpf_object__open_file.restype = ctypes.c_void_p
obj = lib.bpf_object__open_file(sys.argv[1].encode(), ctypes.byref(opts))
if not obj:
    print("OPEN FAILED"); sys.exit(0)
lib.bpf_object__load(ctypes.c_void_p(obj))
lib.bpf_object__close(ctypes.c_void_p(obj))
out = []
for l in lines:
    m = re.search(r"prog '([^']+)': relo #\d+: patched insn #(\d+) \((\S+)\) (imm64|imm|off|mem_sz) \S+ -> (\d+)", l)
    if m:
        out.append(f"{m[1]} {int(m[2])}: {m[4].replace('imm64','imm')} {m[5]}")
        continue
    m = re.search(r"prog '([^']+)': relo #\d+: substituting insn #(\d+)", l)
    if m:
        out.append(f"{m[1]} {int(m[2])}: poison"); continue
    m = re.search(r"prog '([^']+)': relo #\d+: failed to (relocate|patch)", l)
    if m:
        out.append(f"{m[1]} ERROR"); continue
for o in out: print(o)
if "-v" in sys.argv:
    print("\n".join(lines), file=sys.stderr)
