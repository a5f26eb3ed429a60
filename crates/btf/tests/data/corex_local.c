/* Local (program-side) types for the recorded libbpf comparison: every
 * CO-RE relocation kind over nested, anonymous, array, bitfield, enum and
 * typedef accesses. See corex.sh for how the objects and the expected
 * libbpf results are made. */
struct inner {
	int a;
	char b;
} __attribute__((preserve_access_index));

enum e { E_A, E_B = 5 };
enum e64 { Z1 = 1, Z2 = 0x100000000ULL };

struct s {
	int x;
	struct inner in;
	struct inner arr[3];
	union {
		long u1;
		int u2;
	};
	unsigned int bf1 : 3, bf2 : 7;
	int bf3 : 5;
	char *p;
	unsigned short small;
	enum e en;
	long sgn;
	int flex[];
} __attribute__((preserve_access_index));

struct s___v2 {
	int x;
	int y_only_local;
} __attribute__((preserve_access_index));

typedef struct s s_t;

#define FI(e, k) __builtin_preserve_field_info(e, k)
#define TI(t, k) __builtin_preserve_type_info(*(t *)0, k)
#define EV(t, v, k) __builtin_preserve_enum_value(*(t *)v, k)

__attribute__((section("tc"), used)) int corex(struct s *s)
{
	struct s___v2 *v = (void *)s;
	long r = 0;

	r += s->x + s->in.b + s->arr[2].a + s->u1 + s->u2 + (long)s->p;
	r += s->small + s->flex[5] + s[1].x + s->en + s->sgn;
	r += FI(s->bf1, 0) + FI(s->bf1, 1) + FI(s->bf1, 3) + FI(s->bf1, 4) + FI(s->bf1, 5);
	r += FI(s->bf2, 0) + FI(s->bf2, 4) + FI(s->bf2, 5);
	r += FI(s->bf3, 3) + FI(s->bf3, 4) + FI(s->bf3, 5);
	r += FI(s->arr[1].b, 0) + FI(s->arr, 1) + FI(s->in, 2) + FI(s->u2, 3);
	r += v->x + FI(v->y_only_local, 2);
	if (FI(v->y_only_local, 2))
		r += v->y_only_local;
	r += TI(struct s, 0) + TI(struct s, 1) + TI(struct s, 2);
	r += TI(s_t, 0) + TI(s_t, 1) + TI(struct inner, 2) + TI(enum e, 2);
	r += __builtin_btf_type_id(*s, 0) + __builtin_btf_type_id(*s, 1);
	r += EV(enum e, E_B, 0) + EV(enum e, E_B, 1) + EV(enum e64, Z2, 1);
	r += EV(enum e64, Z1, 0) + EV(enum e64, Z1, 1);
	return r;
}

char _license[] __attribute__((section("license"), used)) = "GPL";
