fn main() -> std::process::ExitCode {
    loaxa::control::raise_open_files_limit();
    match loaxa::cli::main() {
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
