/* Target where almost everything is missing: poisoning and zero results. */
struct s {
	int x;
	long other;
};

enum e { E_A = 4 };

struct s g_s;
enum e g_e;
