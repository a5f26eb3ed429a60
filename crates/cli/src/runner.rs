//! The embedding API for running programs: a loaded ELF object (or one raw program) becomes
//! a [`Runner`] — the chosen program first, every other program of the object after it as
//! a tail-call target, the object's maps created in the VM with their initial contents —
//! that verifies with bpfvet's verifier, builds contexts as `BPF_PROG_TEST_RUN` does, and
//! runs with the kernel helpers on the interpreter or, after [`Runner::use_jit`], on the
//! checked JIT (same helpers, maps and results).
//!
//! ```no_run
//! use bpfvet_cli::runner::Runner;
//!
//! let obj = bpfvet_cli::commands::inspect::load_object("fw.o".as_ref(), None).unwrap();
//! let mut r = Runner::from_object(&obj, "xdp_firewall", None).unwrap();
//! assert!(r.verify().accepted());
//! let frame = [0u8; 60];
//! let mut ctx = r.context(&frame, None).unwrap();
//! let out = r.run(&mut ctx).unwrap();
//! println!("action {} data {:?}", out.r0, ctx.data_out());
//! ```

use std::fmt;

use bpfvet_isa::{Program, uapi};
use bpfvet_jit::{Engine, EngineKind};
use bpfvet_loader::{BpfObject, MapDef};
use bpfvet_verifier::{Code, Outcome, VerifyEnv, verify};
use bpfvet_vm::maps::{MapSpec, MapType, Maps};
use bpfvet_vm::{Context, ContextError, Env, RunResult, Vm, VmError};

use crate::commands::verify::map_infos;

/// Why a runner cannot be built.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunnerError(pub String);

impl fmt::Display for RunnerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RunnerError {}

/// A program ready to verify and run, with its maps and fellow programs.
pub struct Runner {
    engine: Engine,
    /// The programs by engine index, kept to rebuild the engine.
    programs: Vec<Program>,
    prog_type: u32,
    /// Program names by VM index (index 0 is the entry program).
    names: Vec<String>,
    /// The entry program's code and verifier environment.
    code: Code,
    env: VerifyEnv,
}

impl fmt::Debug for Runner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runner")
            .field("prog_type", &self.prog_type)
            .field("programs", &self.names)
            .finish_non_exhaustive()
    }
}

/// The VM's spec of a loader map definition.
pub fn map_spec(m: &MapDef) -> Result<MapSpec, RunnerError> {
    let ty = MapType::from_id(m.map_type).ok_or_else(|| {
        RunnerError(format!(
            "map '{}' has type {}, which the VM does not implement",
            m.name,
            m.type_name()
        ))
    })?;
    let mut spec = MapSpec::new(m.name.clone(), ty, m.key_size, m.value_size, m.max_entries)
        .with_flags(m.map_flags);
    if let Some(inner) = &m.inner {
        spec = spec.with_inner(map_spec(inner)?);
    }
    spec.initial_value = m.initial_value.clone();
    spec.frozen = m.frozen;
    Ok(spec)
}

/// The program type named `name` (`xdp`, `sched_cls`, `socket_filter`, ...).
pub fn prog_type_id(name: &str) -> Result<u32, RunnerError> {
    uapi::id_of(uapi::PROG_TYPES, name).ok_or_else(|| {
        RunnerError(format!(
            "unknown program type {name:?} (expected a kernel name like socket_filter, xdp, \
             sched_cls, kprobe)"
        ))
    })
}

impl Runner {
    /// Program `prog` of `obj` (its type from the section, or `prog_type`), with every other
    /// program of the object as a tail-call target and the object's maps (prog arrays
    /// filled from their initial slots).
    pub fn from_object(
        obj: &BpfObject,
        prog: &str,
        prog_type: Option<u32>,
    ) -> Result<Runner, RunnerError> {
        let entry = obj
            .programs
            .iter()
            .position(|p| p.name == prog)
            .ok_or_else(|| {
                RunnerError(format!(
                    "no program named {prog} (programs: {})",
                    obj.programs
                        .iter()
                        .map(|p| p.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })?;
        let p = &obj.programs[entry];
        let prog_type = match prog_type.or_else(|| p.prog_type()) {
            Some(t) => t,
            None => {
                return Err(RunnerError(format!(
                    "program {} in section {}: the section name gives no program type; pass \
                     --type",
                    p.name, p.section
                )));
            }
        };
        let vm_err = |e: VmError| RunnerError(format!("program {}: {e}", p.name));
        let mut vm = Vm::new(&p.program).map_err(vm_err)?;
        let mut names = vec![p.name.clone()];
        for (i, other) in obj.programs.iter().enumerate() {
            if i != entry {
                vm.add_program(&other.program)
                    .map_err(|e| RunnerError(format!("program {}: {e}", other.name)))?;
                names.push(other.name.clone());
            }
        }
        let mut maps = Maps::new();
        for m in &obj.maps {
            maps.create(map_spec(m)?)
                .map_err(|e| RunnerError(format!("map '{}': {e}", m.name)))?;
        }
        for (i, m) in obj.maps.iter().enumerate() {
            for (slot, target) in &m.init_slots {
                let value = match names.iter().position(|n| n == target) {
                    Some(v) if m.map_type == 3 => v as u32,
                    _ => continue,
                };
                maps.update(i, &slot.to_le_bytes(), &value.to_le_bytes(), 0)
                    .map_err(|e| RunnerError(format!("map '{}' slot {slot}: {e}", m.name)))?;
            }
        }
        for (i, m) in obj.maps.iter().enumerate() {
            if m.frozen {
                let _ = maps.freeze(i);
            }
        }
        vm.set_maps(maps);
        vm.enable_kernel_helpers();
        let mut programs = vec![p.program.clone()];
        programs.extend(
            obj.programs
                .iter()
                .enumerate()
                .filter(|&(i, _)| i != entry)
                .map(|(_, o)| o.program.clone()),
        );
        let mut env = VerifyEnv::new(prog_type);
        env.maps = map_infos(&obj.maps);
        env.gpl_compatible = obj.gpl_compatible();
        env.expected_attach_type = p.section_type.as_ref().and_then(|t| t.expected_attach_type);
        env.sleepable = p.section_type.as_ref().is_some_and(|t| t.sleepable());
        env.has_func_info = obj
            .btf_ext
            .as_ref()
            .is_some_and(|e| !e.funcs(&p.section).is_empty());
        env.funcs = bpfvet_loader::funcs::signatures(obj, p);
        env.lines = p
            .lines
            .iter()
            .map(|l| {
                l.as_ref().map(|l| bpfvet_verifier::env::SourceLine {
                    file: l.file.clone(),
                    line: l.line,
                    col: l.col,
                    text: l.text.clone(),
                })
            })
            .collect();
        Ok(Runner {
            engine: Engine::from(vm),
            programs,
            prog_type,
            names,
            code: Code::from_program(&p.program),
            env,
        })
    }

    /// One program without maps (raw bytecode or assembly) of type `prog_type`.
    pub fn from_program(program: &Program, prog_type: u32) -> Result<Runner, RunnerError> {
        let mut vm = Vm::new(program).map_err(|e| RunnerError(e.to_string()))?;
        vm.set_maps(Maps::new());
        vm.enable_kernel_helpers();
        let mut env = VerifyEnv::new(prog_type);
        env.gpl_compatible = true;
        Ok(Runner {
            engine: Engine::from(vm),
            programs: vec![program.clone()],
            prog_type,
            names: vec!["prog".to_string()],
            code: Code::from_program(program),
            env,
        })
    }

    /// Verifies the entry program with bpfvet's verifier.
    pub fn verify(&self) -> Outcome {
        verify(&self.code, &self.env)
    }

    /// The verifier environment (to change its log level, say).
    pub fn verify_env_mut(&mut self) -> &mut VerifyEnv {
        &mut self.env
    }

    /// The program type (uapi number).
    pub fn prog_type(&self) -> u32 {
        self.prog_type
    }

    /// Program names by VM index; prog array values are these indices.
    pub fn program_names(&self) -> &[String] {
        &self.names
    }

    /// The VM index of program `name`.
    pub fn program_index(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }

    /// Moves the programs to the checked JIT (compiling every program of the set), keeping
    /// the maps, the kernel helpers, the environment and the options: runs then give the
    /// interpreter's results at native speed.
    pub fn use_jit(&mut self) -> Result<(), RunnerError> {
        let jit_err = |name: &str, e: bpfvet_jit::JitError| {
            RunnerError(format!("program {name}: cannot compile for the JIT: {e}"))
        };
        let mut engine = Engine::new(&self.programs[0], EngineKind::Jit)
            .map_err(|e| jit_err(&self.names[0], e))?;
        for (p, name) in self.programs.iter().zip(&self.names).skip(1) {
            engine.add_program(p).map_err(|e| jit_err(name, e))?;
        }
        if let Some(maps) = self.engine.take_maps() {
            engine.set_maps(maps);
        }
        engine.enable_kernel_helpers();
        engine.set_options(self.engine.options());
        *engine.env_mut() = self.engine.env().clone();
        self.engine = engine;
        Ok(())
    }

    /// The engine (to register custom helpers, change options).
    pub fn engine_mut(&mut self) -> &mut Engine {
        &mut self.engine
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The environment helpers see (clock, CPU, task, trace output).
    pub fn env(&self) -> &Env {
        self.engine.env()
    }

    /// The environment, to configure or to collect output from.
    pub fn env_mut(&mut self) -> &mut Env {
        self.engine.env_mut()
    }

    /// The maps, to read between runs.
    pub fn maps(&self) -> &Maps {
        self.engine.maps().expect("a runner always has maps")
    }

    /// The maps, to fill between runs.
    pub fn maps_mut(&mut self) -> &mut Maps {
        self.engine.maps_mut().expect("a runner always has maps")
    }

    /// The context `BPF_PROG_TEST_RUN` would build for this program type.
    pub fn context(&self, data_in: &[u8], ctx_in: Option<&[u8]>) -> Result<Context, ContextError> {
        Context::for_test_run(self.prog_type, data_in, ctx_in)
    }

    /// Runs the entry program on `ctx`.
    pub fn run(&mut self, ctx: &mut Context) -> Result<RunResult, VmError> {
        self.engine.run_context(ctx)
    }
}
