//! The `gatehouse` command. All of it lives in the library; see `cli`.

fn main() -> std::process::ExitCode {
    gatehouse_server::cli::main()
}
