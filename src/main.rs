fn main() -> std::process::ExitCode {
    loaxa::control::raise_open_files_limit();
    match loaxa::cli::main() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {}", loaxa::cli::describe_error(&error));
            std::process::ExitCode::FAILURE
        }
    }
}
