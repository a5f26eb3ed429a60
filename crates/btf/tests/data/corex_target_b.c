/* Target with two flavors of struct s that place x differently: ambiguous. */
struct s___one {
	int x;
};

struct s___two {
	long pad;
	int x;
};

struct s___one g_one;
struct s___two g_two;
