use std::process::ExitCode;

fn main() -> ExitCode {
    favorites_api::cli::run()
}
