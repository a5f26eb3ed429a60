//! Helper function prototypes as data (placeholder; being built).
