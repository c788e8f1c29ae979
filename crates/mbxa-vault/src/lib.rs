//! A deduplicating, crash-safe vault of .mbxa archives that re-creates each one byte for byte.
