//! The district (or province) office's side of loaxa: signing and publishing schedules,
//! bulletins and commands to a scope of boxes (`publish`), the table of boxes with what
//! they report (`fleet`), and the durable archive of everything the boxes say, with its
//! reports and exports (`archive`). The binary `loaxa-district` is a thin command line over it.

pub mod archive;
pub mod console;
pub mod fleet;
pub mod publish;
pub mod text;
