//! Card side (todo).
