/* Every BTF kind clang emits, for the parser and dump tests.
 * Rebuild: clang-19 -target bpf -O2 -g -mcpu=v4 -fdebug-prefix-map=$PWD=. -c kinds.c -o kinds.o
 *          bpftool btf dump file kinds.o > kinds.bpftool.txt */
typedef unsigned int u32;
typedef unsigned long long u64;
typedef long long s64;

#define __tag(x) __attribute__((btf_decl_tag(x)))
#define __user __attribute__((btf_type_tag("user")))

enum small { S_NEG = -5, S_POS = 7 };
enum color { RED, GREEN = 2, BLUE = 0xffffffff };
enum big64 { B_HUGE = 0xfedcba9876543210ULL, B_ONE = 1 };
enum neg64 { N_MIN = -0x7fffffffffffLL, N_ONE = 1 };

struct fwd_only;
union fwd_union;

struct bits {
	unsigned int a : 3;
	unsigned int b : 13;
	int c : 7;
	unsigned long long d : 40;
	char tail;
};

union u {
	int i;
	float f;
	double d;
	long double ld;
};

struct inner {
	int x;
	union {
		long y;
		struct { short lo, hi; };
	};
};

struct outer {
	struct inner in;
	struct inner arr[3];
	const volatile int *cvp;
	int *const cp;
	char name[16];
	int (*fn)(int, char *);
	int *(*fnarr[2])(void);
	struct fwd_only *fo;
	union fwd_union *fu;
	int __user *uptr;
	enum small sm;
	enum color col;
	enum big64 b64;
	enum neg64 n64;
	struct bits bf;
	union u un;
	int *restrict rp;
	int matrix[2][3];
	int flex[];
} __tag("outer_tag");

struct outer g_outer;
int g_counter __tag("counter_tag") = 3;
static volatile const u64 g_rodata = 42;
extern int g_extern __attribute__((weak));

extern int use(struct outer *restrict o __tag("param_tag"), s64 n, ...);

__attribute__((noinline)) int helper(struct outer *o, u32 k)
{
	return o->name[k & 15] + o->bf.c + (int)g_rodata;
}

__attribute__((section("xdp"), used)) int prog(void *ctx)
{
	g_counter++;
	return helper(&g_outer, (u32)(unsigned long)ctx) + (&g_extern ? g_extern : 0) + use(&g_outer, 1, 2);
}

char _license[] __attribute__((section("license"), used)) = "GPL";
