//! Program types as data: context layout, allowed helpers, return ranges (placeholder; being built).
