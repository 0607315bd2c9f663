//! The raw layer: events exactly as they are on the wire or in the text form, without semantics.
