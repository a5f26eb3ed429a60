//! Scalar values: tnum plus signed/unsigned 64- and 32-bit bounds (placeholder; being built).
