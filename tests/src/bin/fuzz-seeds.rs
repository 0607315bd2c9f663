//! Writes the fuzz corpus seeds: each of Go's Go 1.22 vectors as binary, text and `.test`.
//! Usage: `cargo run -p gotrace-tests --bin fuzz-seeds -- DIR` (needs Go for the vectors).

use gotrace_decoder::raw::binary_to_text;
use gotrace_go_oracle::Go;
use gotrace_tests::vectors::go122_vectors;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args_os().nth(1).ok_or("usage: fuzz-seeds DIR")?;
    let dir = std::path::PathBuf::from(dir);
    std::fs::create_dir_all(&dir)?;
    let go = Go::locate()?;
    let vectors = go122_vectors(&go);
    for vector in &vectors {
        std::fs::write(dir.join(format!("{}.trace", vector.name)), &vector.binary)?;
        std::fs::write(
            dir.join(format!("{}.txt", vector.name)),
            binary_to_text(&vector.binary[..])?,
        )?;
        std::fs::copy(&vector.path, dir.join(format!("{}.test", vector.name)))?;
    }
    println!("{} seeds in {}", vectors.len() * 3, dir.display());
    Ok(())
}
