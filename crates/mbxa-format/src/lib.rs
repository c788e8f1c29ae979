//! The .mbxa archive format: streaming writer, random-access reader, wire types.
