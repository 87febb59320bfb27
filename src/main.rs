fn main() -> std::process::ExitCode {
    heartbeat_rs::cli::dispatch(std::env::args_os().collect())
}
