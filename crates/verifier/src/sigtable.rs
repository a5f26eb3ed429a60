//! Adapter from the helper prototype table (`helpers/`) to [`crate::sig`] signatures.
//! (Minimal built-in subset until the generated table is wired in.)

use crate::reg::RegType;
use crate::sig::{Arg, Denied, HelperSig, Ret};

pub fn lookup(id: i32, _prog_type: u32, _attach: Option<u32>) -> Result<HelperSig, Denied> {
    let sig = |name: &str, args: Vec<Arg>, ret: Ret| HelperSig {
        name: format!("bpf_{name}"),
        gpl_only: false,
        might_sleep: false,
        changes_pkt_data: false,
        args,
        ret,
    };
    Ok(match id {
        1 => sig(
            "map_lookup_elem",
            vec![Arg::ConstMapPtr, Arg::MapKey],
            Ret::MapValue { or_null: true },
        ),
        2 => sig(
            "map_update_elem",
            vec![
                Arg::ConstMapPtr,
                Arg::MapKey,
                Arg::MapValue { uninit: false },
                Arg::Anything,
            ],
            Ret::Integer,
        ),
        3 => sig(
            "map_delete_elem",
            vec![Arg::ConstMapPtr, Arg::MapKey],
            Ret::Integer,
        ),
        5 => sig("ktime_get_ns", vec![], Ret::Integer),
        7 => sig("get_prandom_u32", vec![], Ret::Integer),
        _ => return Err(Denied::Unknown),
    })
    .map(|mut s| {
        let _ = RegType::Scalar;
        s.args.retain(|a| *a != Arg::DontCare);
        s
    })
}

pub fn map_func_compatible(_map_type: u32, _func: i32) -> bool {
    true
}
