//! FastTransfer (MS-OXCFXICS) stream parser, encoder and .eml conversion.
