//! Adapter from the generated helper table (`data/helper_table.rs`) to [`crate::sig`]
//! signatures: the variant a program type gets, and whether it may call the helper at all.

use crate::data::helper_table::HELPERS;
use crate::data::map_table::RESTRICTED;
use crate::sig::{Denied, HelperSig};

/// The signature of helper `id` for program type `prog_type`.
pub fn lookup(id: i32, prog_type: u32, _attach: Option<u32>) -> Result<HelperSig, Denied> {
    let Ok(id) = u32::try_from(id) else {
        return Err(Denied::Unknown);
    };
    let Some((_, variants, allowed)) = HELPERS.iter().find(|(h, _, _)| *h == id) else {
        return Err(Denied::Unknown);
    };
    if variants.is_empty() {
        return Err(Denied::Unknown);
    }
    if !allowed.contains(&prog_type) {
        return Err(Denied::NotAllowed);
    }
    // The variant this program type's proto function returns, else the first.
    let v = variants
        .iter()
        .find(|v| v.6.contains(&prog_type))
        .unwrap_or(&variants[0]);
    let (name, gpl_only, might_sleep, changes_pkt_data, args, ret, _, release) = *v;
    Ok(HelperSig {
        name: name.to_string(),
        gpl_only,
        might_sleep,
        changes_pkt_data,
        args: args.to_vec(),
        ret,
        release_arg: (release > 0).then_some(release),
    })
}

/// Map types that only some helpers may take, and helpers that need particular map types.
pub fn map_func_compatible(map_type: u32, func: i32) -> bool {
    let func = func as u32;
    if let Some((_, helpers)) = RESTRICTED.iter().find(|(m, _)| *m == map_type) {
        // Generic lookups are allowed for map-in-map and the like by their own rules.
        return helpers.contains(&func);
    }
    // Helpers that need a particular map type (tail_call: prog_array; ringbuf helpers: ringbuf;
    // perf_event_output: perf_event_array; get_stackid: stack_trace).
    let needs: &[(u32, u32)] = &[(12, 3), (130, 27), (131, 27), (134, 27), (25, 4), (27, 7)];
    match needs.iter().find(|(h, _)| *h == func) {
        Some((_, m)) => *m == map_type,
        None => true,
    }
}
