/* Target types, reshuffled: new offsets and sizes, anonymous nesting, wider
 * bitfields, renumbered and reordered enumerators, a longer array. */
struct inner {
	char pad;
	int a;
	short b;
};

enum e { E_C = 1, E_B = 7, E_A = 9 };
enum e64 { Z2 = 0x200000000ULL, Z1 = 3 };

struct s {
	long pad0;
	struct inner arr[5];
	int x;
	union {
		int u2;
		long u1;
	};
	struct {
		struct inner in;
	};
	unsigned int pad1 : 5, bf2 : 9, bf1 : 2;
	int bf3 : 6;
	char *p;
	unsigned int small;
	enum e en;
	int sgn;
	int flex[];
};

typedef struct s s_t;

struct s g_s;
s_t *g_t;
enum e64 g_e64;
