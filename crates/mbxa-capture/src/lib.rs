//! Capture: turn a live mailbox into a .mbxa archive, full or incremental, resumable.
