//! Replay: import a .mbxa archive into a mailbox, resumable and never twice.
