//! The district (or province) office's side of loaxa: signing and publishing schedules,
//! bulletins and commands to a scope of boxes (`publish`), and the table of boxes with what
//! they report (`fleet`). The binary `loaxa-district` is a thin command line over it.

pub mod console;
pub mod fleet;
pub mod publish;
