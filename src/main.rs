fn main() -> std::process::ExitCode {
    match loaxa::cli::main() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {}", loaxa::cli::describe_error(&error));
            std::process::ExitCode::FAILURE
        }
    }
}
