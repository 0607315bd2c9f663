//! Go's `.test` files: a txtar archive with an `expect` section and a `trace` section in text form.
