//! The subcommands besides running the proxy: each returns what to print or an
//! error message, so `main` only prints and picks the exit code.

pub mod check;
pub mod dev_token;
pub mod probe;
