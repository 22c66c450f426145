fn main() -> std::process::ExitCode {
    loaxa::control::raise_open_files_limit();
    match loaxa::cli::main() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{}", loaxa::cli::error_line(&error));
            std::process::ExitCode::FAILURE
        }
    }
}
