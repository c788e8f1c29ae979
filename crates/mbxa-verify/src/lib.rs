//! Offline, parallel integrity verification of .mbxa archives.
