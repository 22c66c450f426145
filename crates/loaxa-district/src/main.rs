//! `loaxa-district`: the district (or province) office's side of loaxa.

mod cli;

fn main() -> std::process::ExitCode {
    match cli::main() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!(
                "error: {}",
                loaxa_core::report::describe_error(error.as_ref())
            );
            std::process::ExitCode::FAILURE
        }
    }
}
