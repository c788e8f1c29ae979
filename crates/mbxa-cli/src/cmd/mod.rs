//! One module per command family; each exposes clap `Args` and a `fn(args, &Output) -> Result<Outcome>`.

pub mod capture;
pub mod connect;
pub mod demo;
pub mod emulator;
pub mod info;
pub mod inspect;
pub mod replay;
pub mod vault;
pub mod verify;
