/* CO-RE relocations of every kind against the kernel's task_struct, for the
 * relocation tests. Rebuild: clang-19 -target bpf -O2 -g -mcpu=v4 -fdebug-prefix-map=$PWD=. -c core.c -o core.o */
typedef int pid_t;

struct list_head___my {
	struct list_head___my *next, *prev;
} __attribute__((preserve_access_index));

struct task_struct___my {
	unsigned int __state;
	unsigned long long flags;      /* u32 in the kernel: load size shrinks */
	int prio;
	unsigned int sched_reset_on_fork : 1;
	pid_t pid;
	pid_t tgid;
	char comm[16];
	long nonexistent_field_xyz;
} __attribute__((preserve_access_index));

enum pid_type___my { PIDTYPE_PID, PIDTYPE_TGID, PIDTYPE_NOPE___x = 7 };

#define FIELD(e, k) __builtin_preserve_field_info(e, k)

__attribute__((section("tp_btf/sched_switch"), used))
int prog(unsigned long long *ctx)
{
	struct task_struct___my *t = (void *)ctx[1];
	long r = 0;

	r += t->pid;
	r += t->tgid;
	r += t->flags;
	r += t->comm[3];
	r += FIELD(t->prio, 0);
	r += FIELD(t->prio, 1);
	r += FIELD(t->tgid, 2);
	r += FIELD(t->nonexistent_field_xyz, 2);
	r += FIELD(t->prio, 3);
	r += FIELD(t->sched_reset_on_fork, 0);
	r += FIELD(t->sched_reset_on_fork, 1);
	r += FIELD(t->sched_reset_on_fork, 3);
	r += FIELD(t->sched_reset_on_fork, 4);
	r += FIELD(t->sched_reset_on_fork, 5);
	r += __builtin_btf_type_id(*t, 0);
	r += __builtin_btf_type_id(*t, 1);
	r += __builtin_preserve_type_info(*t, 0);
	r += __builtin_preserve_type_info(*t, 1);
	r += __builtin_preserve_type_info(*(struct list_head___my *)0, 2);
	r += __builtin_preserve_type_info(*t, 2);
	r += __builtin_preserve_enum_value(*(enum pid_type___my *)PIDTYPE_TGID, 0);
	r += __builtin_preserve_enum_value(*(enum pid_type___my *)PIDTYPE_TGID, 1);
	r += __builtin_preserve_enum_value(*(enum pid_type___my *)PIDTYPE_NOPE___x, 0);
	if (FIELD(t->nonexistent_field_xyz, 2))
		r += t->nonexistent_field_xyz;
	if (__builtin_preserve_enum_value(*(enum pid_type___my *)PIDTYPE_NOPE___x, 0))
		r += __builtin_preserve_enum_value(*(enum pid_type___my *)PIDTYPE_NOPE___x, 1);
	return r;
}

char _license[] __attribute__((section("license"), used)) = "GPL";
