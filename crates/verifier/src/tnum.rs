//! Tracked numbers: the known bits of a value (placeholder; being built).
