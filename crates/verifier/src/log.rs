//! The verifier log in the kernel's format. Level 1: each processed instruction as
//! `N: (op) text`, followed on the same line by the registers and stack slots it touched;
//! when a path ends the log rewinds to where the next pending path was pushed, so a failing
//! log shows the failing path; a successful one keeps only the statistics. Level 2: no
//! rewinding, `from P to N:` with the full state at every path start, `func#N @pc` lines.

use std::fmt::Write;

use crate::env::{MapInfo, VerifyEnv};
use crate::explore::Stats;
use crate::prog::Code;
use crate::reg::{RegState, RegType};
use crate::scalar::Scalar;
use crate::stack::{ByteKind, Stack};
use crate::state::{Frame, State};
use crate::tnum::Tnum;

/// The log being written.
#[derive(Clone, Debug)]
pub struct Log {
    pub level: u32,
    buf: String,
    /// Start of the last instruction line (to append its state), and its length.
    insn_line: Option<(usize, usize)>,
    /// The last source line printed (file, line), so a line is printed once per change.
    last_src: Option<(String, u32)>,
    /// Registers and stack slots touched by the current instruction.
    pub scratched_regs: u16,
    pub scratched_slots: Vec<usize>,
}

fn unum(v: u64) -> String {
    if v <= u64::from(u16::MAX) {
        v.to_string()
    } else {
        format!("{v:#x}")
    }
}

fn snum(v: i64) -> String {
    if (i64::from(i16::MIN)..=i64::from(i16::MAX)).contains(&v) {
        v.to_string()
    } else {
        format!("{:#x}", v as u64)
    }
}

/// `tnum_strn`: `(value; mask)`, or the constant.
pub fn tnum_text(t: Tnum) -> String {
    if t.mask == 0 {
        unum(t.value)
    } else {
        format!("({:#x}; {:#x})", t.value, t.mask)
    }
}

/// The kernel's `print_scalar_ranges`: the eight bounds, omitting extremes, merging equal
/// values of the same sign (`smin=umin=5`).
pub fn scalar_ranges(s: &Scalar, out: &mut Vec<String>) {
    let s32 = |v: i32| -> u64 {
        let w = i64::from(v);
        if (i64::from(i16::MIN)..=i64::from(i16::MAX)).contains(&w) {
            w as u64
        } else {
            u64::from(v as u32)
        }
    };
    let mut m: [(&str, u64, bool); 8] = [
        ("smin", s.smin as u64, s.smin == i64::MIN),
        ("smax", s.smax as u64, s.smax == i64::MAX),
        ("umin", s.umin, s.umin == 0),
        ("umax", s.umax, s.umax == u64::MAX),
        ("smin32", s32(s.s32_min), s.s32_min == i32::MIN),
        ("smax32", s32(s.s32_max), s.s32_max == i32::MAX),
        ("umin32", u64::from(s.u32_min), s.u32_min == 0),
        ("umax32", u64::from(s.u32_max), s.u32_max == u32::MAX),
    ];
    for i in 0..m.len() {
        if m[i].2 {
            continue;
        }
        let neg1 = m[i].0.starts_with('s') && (m[i].1 as i64) < 0;
        let mut text = format!("{}=", m[i].0);
        for j in (i + 2..m.len()).step_by(2) {
            if m[j].2 || m[j].1 != m[i].1 {
                continue;
            }
            let neg2 = m[j].0.starts_with('s') && (m[j].1 as i64) < 0;
            if neg2 != neg1 {
                continue;
            }
            m[j].2 = true;
            let _ = write!(text, "{}=", m[j].0);
        }
        if m[i].0.starts_with('s') {
            text.push_str(&snum(m[i].1 as i64));
        } else {
            text.push_str(&unum(m[i].1));
        }
        out.push(text);
    }
}

/// A register as the kernel prints it (`5`, `fp-8`, `ctx()`, `map_value(map=m,ks=4,vs=8)`,
/// `scalar(smin=...)`). `frameno` is the frame being printed; `map` names maps.
pub fn reg_text(
    r: &RegState,
    frameno: u8,
    map: &dyn Fn(u32) -> Option<(String, u32, u32)>,
) -> String {
    let mut s = String::new();
    if r.ty == RegType::Scalar && r.precise {
        s.push('P');
    }
    if r.ty == RegType::Scalar && r.var.var_off.mask == 0 {
        s.push_str(&snum(r.var.var_off.value as i64));
        return s;
    }
    s.push_str(&r.type_name(None));
    if r.ty == RegType::Stack {
        if r.frameno != frameno {
            let _ = write!(s, "[{}]", r.frameno);
        }
        if r.var.var_off.mask == 0 {
            s.push_str(&snum(
                (r.var.var_off.value as i64).wrapping_add(i64::from(r.off)),
            ));
            return s;
        }
    }
    let mut attrs: Vec<String> = Vec::new();
    if r.id != 0 {
        if r.flags.add_const {
            attrs.push(format!("id={}{:+}", r.id, r.off));
        } else {
            attrs.push(format!("id={}", r.id));
        }
    }
    if r.ref_obj_id != 0 {
        attrs.push(format!("ref_obj_id={}", r.ref_obj_id));
    }
    if matches!(r.ty, RegType::MapPtr | RegType::MapKey | RegType::MapValue)
        && let Some((name, ks, vs)) = map(r.map)
    {
        if !name.is_empty() {
            attrs.push(format!("map={name}"));
        }
        attrs.push(format!("ks={ks},vs={vs}"));
    }
    if r.ty != RegType::Scalar && r.off != 0 {
        attrs.push(format!("off={}", snum(i64::from(r.off))));
    }
    if r.ty.is_packet() {
        attrs.push(format!("r={}", unum(r.range as u32 as u64)));
    }
    if r.ty == RegType::Mem {
        attrs.push(format!("sz={}", unum(r.range as u32 as u64)));
    }
    if r.var.var_off.mask == 0 {
        if r.var.var_off.value != 0 {
            attrs.push(format!("imm={}", snum(r.var.var_off.value as i64)));
        }
    } else {
        scalar_ranges(&r.var, &mut attrs);
        if !(r.var.var_off.value == 0 && r.var.var_off.mask == u64::MAX) {
            attrs.push(format!("var_off={}", tnum_text(r.var.var_off)));
        }
    }
    let _ = write!(s, "({})", attrs.join(","));
    s
}

/// The state of one frame: registers (all, or the touched ones) and stack slots.
pub fn frame_text(
    f: &Frame,
    refs: &[u32],
    regs: Option<u16>,
    slots: Option<&[usize]>,
    map: &dyn Fn(u32) -> Option<(String, u32, u32)>,
) -> String {
    let mut s = String::new();
    if f.frameno != 0 {
        let _ = write!(s, " frame{}:", f.frameno);
    }
    for (i, r) in f.regs.iter().enumerate() {
        if !r.is_init() || regs.is_some_and(|m| m & (1 << i) == 0) {
            continue;
        }
        let _ = write!(s, " R{i}={}", reg_text(r, f.frameno, map));
    }
    for (i, slot) in f.stack.slots.iter().enumerate() {
        if slots.is_some_and(|v| !v.contains(&i)) {
            continue;
        }
        if slot.bytes.iter().all(|b| *b == ByteKind::Invalid) {
            continue;
        }
        let off = -(i as i64 + 1) * 8;
        if slot.is_iter() {
            // Only an iterator's first slot (with the reference) is shown.
            if let Some(it) = slot.iter.filter(|it| it.ref_id != 0) {
                let _ = write!(
                    s,
                    " fp{off}=iter_{}(ref_id={},state={},depth={})",
                    it.kind,
                    it.ref_id,
                    it.state.name(),
                    it.depth
                );
            }
        } else if slot.is_spill() {
            let prefix: String = slot
                .bytes
                .iter()
                .take_while(|b| **b != ByteKind::Spill)
                .map(|b| b.log_char())
                .collect();
            let _ = write!(
                s,
                " fp{off}={prefix}{}",
                reg_text(&slot.spilled, f.frameno, map)
            );
        } else {
            let _ = write!(s, " fp{off}={}", Stack::bytes_text(slot));
        }
    }
    if !refs.is_empty() {
        let ids: Vec<String> = refs.iter().map(|r| r.to_string()).collect();
        let _ = write!(s, " refs={}", ids.join(","));
    }
    if f.callback_ret.is_some() {
        s.push_str(" cb");
    }
    s
}

impl Log {
    pub fn new(level: u32) -> Log {
        Log {
            level,
            buf: String::new(),
            insn_line: None,
            last_src: None,
            scratched_regs: 0,
            scratched_slots: Vec::new(),
        }
    }

    pub fn enabled(&self) -> bool {
        self.level > 0
    }

    /// A line of its own.
    pub fn line(&mut self, text: &str) {
        if self.level == 0 {
            return;
        }
        self.insn_line = None;
        self.buf.push_str(text);
        self.buf.push('\n');
    }

    /// Current position, to rewind to.
    pub fn mark(&self) -> usize {
        self.buf.len()
    }

    /// At level 1, drops what was written since `mark` (the kernel's log rewinding when a path
    /// ends and a pending one resumes).
    pub fn rewind(&mut self, mark: usize) {
        if self.level == 1 && mark <= self.buf.len() {
            self.buf.truncate(mark);
            self.insn_line = None;
            self.last_src = None;
        }
    }

    fn map_fn(maps: &[MapInfo]) -> impl Fn(u32) -> Option<(String, u32, u32)> + '_ {
        move |i| {
            maps.get(i as usize)
                .map(|m| (m.name.clone(), m.key_size, m.value_size))
        }
    }

    /// `N: <full frame state>` before the first instruction.
    pub fn state_line(&mut self, pc: usize, st: &State, maps: &[MapInfo]) {
        if self.level == 0 {
            return;
        }
        let refs: Vec<u32> = st.refs.iter().map(|r| r.id).collect();
        let text = frame_text(st.cur(), &refs, None, None, &Self::map_fn(maps));
        self.line(&format!("{pc}:{text}"));
    }

    /// The instruction line `N: (op) text`.
    pub fn insn_line(&mut self, pc: usize, code: &Code, env: &VerifyEnv) {
        self.scratched_regs = 0;
        self.scratched_slots.clear();
        if self.level == 0 {
            return;
        }
        if let Some(Some(src)) = env.lines.get(pc) {
            let key = (src.file.clone(), src.line);
            if self.last_src.as_ref() != Some(&key) {
                let file = src.file.rsplit('/').next().unwrap_or(&src.file);
                self.line(&format!("; {} @ {file}:{}", src.text.trim(), src.line));
                self.last_src = Some(key);
            }
        }
        let text = crate::insn_text::insn_text(code, pc, env);
        let start = self.buf.len();
        let line = format!("{pc}: {text}");
        self.buf.push_str(&line);
        self.buf.push('\n');
        self.insn_line = Some((start, line.len()));
    }

    /// Appends the touched registers and slots to the last instruction line (or, if something
    /// else was printed since, on a line of its own prefixed with `N:`).
    pub fn insn_state(&mut self, pc: usize, st: &State, maps: &[MapInfo]) {
        if self.level == 0 {
            return;
        }
        let refs: Vec<u32> = st.refs.iter().map(|r| r.id).collect();
        let slots = self.scratched_slots.clone();
        let text = frame_text(
            st.cur(),
            &refs,
            Some(self.scratched_regs),
            Some(&slots),
            &Self::map_fn(maps),
        );
        if text.is_empty() {
            self.insn_line = None;
            return;
        }
        match self.insn_line {
            Some((start, len)) if start + len + 1 == self.buf.len() => {
                self.buf.pop();
                let col = (len + 5).max(40).div_ceil(8) * 8 - len - 2;
                self.buf.push_str(&" ".repeat(col));
                self.buf.push(';');
                self.buf.push_str(&text);
                self.buf.push('\n');
            }
            _ => {
                self.buf.push_str(&format!("{pc}:{text}\n"));
            }
        }
        self.insn_line = None;
    }

    /// `N: safe` / `from P to N: safe`.
    pub fn safe(&mut self, pc: usize, from: Option<usize>) {
        match from {
            Some(p) if self.level >= 1 => {
                self.line(&format!("\nfrom {p} to {pc}: safe"));
            }
            _ => self.line(&format!("{pc}: safe")),
        }
    }

    /// A popped path starts: `from P to N: <state>`.
    pub fn branch_start(&mut self, from: usize, pc: usize, st: &State, maps: &[MapInfo]) {
        if self.level == 0 {
            return;
        }
        let refs: Vec<u32> = st.refs.iter().map(|r| r.id).collect();
        let text = frame_text(st.cur(), &refs, None, None, &Self::map_fn(maps));
        self.line(&format!("from {from} to {pc}:{text}"));
    }

    /// The rejection message.
    pub fn error(&mut self, msg: &str) {
        self.line(msg);
    }

    /// A successful verification keeps only the final lines at level 1.
    pub fn success(&mut self) {
        if self.level == 1 {
            self.buf.clear();
        }
    }

    /// The closing statistics line.
    pub fn stats_line(&mut self, s: &Stats) {
        self.line(&format!(
            "processed {} insns (limit 1000000) max_states_per_insn {} total_states {} \
             peak_states {} mark_read {}",
            s.processed_insns, s.max_states_per_insn, s.total_states, s.peak_states, s.mark_read
        ));
    }

    pub fn finish(self) -> String {
        self.buf
    }
}
