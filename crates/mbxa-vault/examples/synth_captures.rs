//! Writes a five-capture (or N-capture) scenario of an evolving mailbox for benchmarks:
//! `DIR/caps/capN.mbxa` (archives), `DIR/files/capN/<item id>` (the same blobs as plain files)
//! and `DIR/frames/capN.zst` (the archive's blob frames concatenated, for `zstd -d`).
//!
//! Usage: `synth_captures DIR [captures=5] [items=2000] [mean_text=20000] [reexport_percent=30]`

use std::io::Write;
use std::path::PathBuf;

use mbxa_vault::synth::Mailbox;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let dir = PathBuf::from(
        args.get(1)
            .ok_or("usage: synth_captures DIR [captures] [items] [mean_text] [reexport%]")?,
    );
    let num = |i: usize, d: u64| args.get(i).and_then(|s| s.parse().ok()).unwrap_or(d);
    let (captures, items, mean_text, reexport) =
        (num(2, 5), num(3, 2000), num(4, 20_000), num(5, 30));
    let mut m = Mailbox::new(2026, items as usize, 200, 400_000);
    m.mean_text = mean_text as usize;
    for sub in ["caps", "files", "frames"] {
        std::fs::create_dir_all(dir.join(sub))?;
    }
    for c in 0..captures {
        if c > 0 {
            // A week of mail: 5% new, 2% edited, 1% deleted; re-exports are not byte-stable.
            m.evolve(
                items as usize / 20,
                items as usize / 50,
                items as usize / 100,
            );
            m.reexport(reexport);
        }
        let cap = dir.join("caps").join(format!("cap{c}.mbxa"));
        m.write_archive(&cap)?;
        let files = dir.join("files").join(format!("cap{c}"));
        std::fs::create_dir_all(&files)?;
        for (id, bytes) in m.item_blobs() {
            std::fs::write(files.join(id), bytes)?;
        }
        let mut r = mbxa_format::ArchiveReader::open_path(&cap)?;
        let mut frames = std::fs::File::create(dir.join("frames").join(format!("cap{c}.zst")))?;
        for e in r.entries_in_file_order() {
            frames.write_all(&r.raw_frame(&e.id)?)?;
        }
        let len = std::fs::metadata(&cap)?.len();
        println!("{} {} items {} bytes", cap.display(), m.len(), len);
    }
    Ok(())
}
