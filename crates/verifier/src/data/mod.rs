//! Generated tables (see `crates/verifier/gen/tables.py`): helper signatures and per-type
//! permissions, program-type context layouts, map/helper restrictions.

pub mod ctx_table;
pub mod helper_table;
pub mod map_table;
