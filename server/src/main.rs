//! The `gatehouse` command. All of it lives in the library; see `cli`.

/// See the workspace's Cargo.toml: SQLite's rows are allocated on one thread and freed
/// on another, which glibc's allocator does slowly.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    gatehouse_server::cli::main()
}
