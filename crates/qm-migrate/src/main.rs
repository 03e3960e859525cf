//! The `qm-migrate` binary: everything lives in the library (`qm_migrate::main`).

fn main() -> std::process::ExitCode {
    qm_migrate::main(std::env::args_os())
}
