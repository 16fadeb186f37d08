//! Reader side (todo).
