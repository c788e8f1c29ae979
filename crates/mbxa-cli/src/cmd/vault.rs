//! `mbxa dedupe` and `mbxa vault …`: the deduplicating store.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::verify::{human, Bytes};
use crate::exit::Outcome;
use crate::output::Output;

/// Arguments of `mbxa dedupe`.
#[derive(Debug, clap::Args)]
pub struct DedupeArgs {
    /// Archives to compare.
    #[arg(required = true, value_name = "ARCHIVE")]
    pub archives: Vec<PathBuf>,
}

/// `mbxa vault` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum VaultCommand {
    /// Store archives in a deduplicating vault (created if missing).
    Add {
        /// The vault directory.
        vault: PathBuf,
        /// Archives to store.
        #[arg(required = true, value_name = "ARCHIVE")]
        archives: Vec<PathBuf>,
        /// Target size of new pack files, in bytes.
        #[arg(long, value_name = "BYTES", default_value_t = mbxa_vault::DEFAULT_PACK_TARGET)]
        pack_size: u64,
    },
    /// List the archives held: id, source, capture time, items, size, bytes it alone needs.
    Ls {
        /// The vault directory.
        vault: PathBuf,
    },
    /// Re-create an archive, byte for byte identical to the one added.
    Export {
        /// The vault directory.
        vault: PathBuf,
        /// Archive id, or an unambiguous prefix of one.
        archive_id: String,
        /// Where to write the archive.
        #[arg(short, long, value_name = "OUT.mbxa")]
        output: PathBuf,
    },
    /// Check every stored byte and that every archive can be re-created.
    Verify {
        /// The vault directory.
        vault: PathBuf,
        /// Also re-create every archive in full (re-compressing every blob) and compare its
        /// SHA-256. Without it, frames are re-compressed only for archives added with another
        /// zstd version than this build's; `add` already proved the others reproduce.
        #[arg(long)]
        full: bool,
    },
    /// Drop archives from the vault; `prune` then frees the data only they needed.
    Forget {
        /// The vault directory.
        vault: PathBuf,
        /// Archive ids or unambiguous prefixes.
        #[arg(required = true, value_name = "ARCHIVE-ID")]
        ids: Vec<String>,
    },
    /// Delete or repack data no remaining archive needs.
    Prune {
        /// The vault directory.
        vault: PathBuf,
        /// Target size of new pack files, in bytes.
        #[arg(long, value_name = "BYTES", default_value_t = mbxa_vault::DEFAULT_PACK_TARGET)]
        pack_size: u64,
    },
}

/// Runs `mbxa dedupe`.
pub fn dedupe(args: DedupeArgs, out: &Output) -> anyhow::Result<Outcome> {
    let p = Bytes::new(out, "dedupe".into());
    let r = mbxa_vault::dedupe(&args.archives, &|_, pr| p.update(pr.done, pr.total));
    p.finish();
    let r = r?;
    if out.is_json() {
        out.json(&r)?;
        return Ok(Outcome::Ok);
    }
    for a in &r.archives {
        out.line(&format!(
            "{}  {}  {:>10}  adds {:>10}",
            &a.archive_id[..12],
            a.path.display(),
            human(a.file_len),
            human(a.new_bytes)
        ));
    }
    let pct = |a: u64, b: u64| {
        if b == 0 {
            0.0
        } else {
            a as f64 * 100.0 / b as f64
        }
    };
    out.line(&format!("archives:            {}", r.archives.len()));
    out.line(&format!(
        "total archive bytes: {}",
        human(r.total_file_bytes)
    ));
    out.line(&format!(
        "blobs:               {} ({} unique), {} uncompressed ({} unique)",
        r.blobs,
        r.unique_blobs,
        human(r.blob_bytes),
        human(r.unique_blob_bytes)
    ));
    out.line(&format!(
        "chunks:              {} ({} unique, {} raw)",
        r.chunks,
        r.unique_chunks,
        human(r.unique_chunk_bytes)
    ));
    out.line(&format!(
        "a vault would store: {} ({:.1}% of the archives)",
        human(r.vault_bytes),
        pct(r.vault_bytes, r.total_file_bytes)
    ));
    if r.verbatim_frames > 0 {
        out.line(&format!(
            "frames stored verbatim (not re-creatable by re-compression): {}",
            r.verbatim_frames
        ));
    }
    Ok(Outcome::Ok)
}

#[derive(Serialize)]
struct AddJson {
    added: Vec<AddedJson>,
    failed: Vec<FailedJson>,
}

#[derive(Serialize)]
struct AddedJson {
    path: PathBuf,
    archive_id: String,
    already_stored: bool,
    file_len: u64,
    new_chunks: u64,
    new_stored_bytes: u64,
    frames: u64,
    frames_verbatim: u64,
}

#[derive(Serialize)]
struct FailedJson {
    path: PathBuf,
    error: String,
}

/// Runs `mbxa vault …`.
pub fn vault(cmd: VaultCommand, out: &Output) -> anyhow::Result<Outcome> {
    match cmd {
        VaultCommand::Add {
            vault,
            archives,
            pack_size,
        } => add(&vault, &archives, pack_size, out),
        VaultCommand::Ls { vault } => ls(&vault, out),
        VaultCommand::Export {
            vault,
            archive_id,
            output,
        } => {
            let v = mbxa_vault::Vault::open(&vault)?;
            let id = v.export(&archive_id, &output)?;
            let len = std::fs::metadata(&output).map(|m| m.len()).unwrap_or(0);
            if out.is_json() {
                out.json(&serde_json::json!({"archive_id": mbxa_vault::hex(&id), "path": output, "bytes": len}))?;
            } else {
                out.line(&format!(
                    "exported {} to {} ({})",
                    mbxa_vault::hex(&id),
                    output.display(),
                    human(len)
                ));
            }
            Ok(Outcome::Ok)
        }
        VaultCommand::Verify { vault, full } => {
            let v = mbxa_vault::Vault::open(&vault)?;
            let r = v.verify_with(full, &|msg| out.info(msg))?;
            if out.is_json() {
                out.json(&r)?;
            } else {
                for p in &r.problems {
                    let archives = if p.archives.is_empty() {
                        String::new()
                    } else {
                        format!(
                            "; affects archive(s) {}",
                            p.archives
                                .iter()
                                .map(|a| &a[..12])
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    };
                    let at = p
                        .offset
                        .map(|o| format!(" at offset {o}"))
                        .unwrap_or_default();
                    out.line(&format!(
                        "{:?} {}{at}: {}{archives}",
                        p.kind, p.file, p.detail
                    ));
                }
                for u in &r.unindexed_packs {
                    out.info(&format!("note: {u} is not indexed (left by an interrupted add); `vault prune` removes it"));
                }
                let how = if r.full {
                    "re-created byte for byte".to_string()
                } else if r.frames_recompressed > 0 {
                    format!(
                        "re-creatable ({} frames re-compressed); --full re-creates them whole",
                        r.frames_recompressed
                    )
                } else {
                    "re-creatable; --full re-creates them whole".to_string()
                };
                out.line(&format!(
                    "{} packs ({}), {} chunks read; {} of {} archives {how}; {} problem(s)",
                    r.packs,
                    human(r.bytes),
                    r.chunks,
                    r.archives_ok,
                    r.archives,
                    r.problems.len()
                ));
            }
            Ok(if r.problems.is_empty() {
                Outcome::Ok
            } else {
                Outcome::Problems
            })
        }
        VaultCommand::Forget { vault, ids } => {
            let v = mbxa_vault::Vault::open(&vault)?;
            let gone = v.forget(&ids)?;
            let hexes: Vec<String> = gone.iter().map(mbxa_vault::hex).collect();
            if out.is_json() {
                out.json(&serde_json::json!({ "forgotten": hexes }))?;
            } else {
                for h in &hexes {
                    out.line(&format!("forgot {h}"));
                }
                out.info("run `mbxa vault prune` to free the space only they used");
            }
            Ok(Outcome::Ok)
        }
        VaultCommand::Prune { vault, pack_size } => {
            let v = mbxa_vault::Vault::open(&vault)?.with_pack_target(pack_size);
            let r = v.prune()?;
            if out.is_json() {
                out.json(&r)?;
            } else {
                out.line(&format!(
                    "deleted {} packs, repacked {} into {}, removed {} leftover packs, dropped {} chunks, freed {}",
                    r.packs_deleted,
                    r.packs_repacked,
                    r.packs_written,
                    r.orphans_deleted,
                    r.chunks_dropped,
                    human(r.bytes_freed.max(0) as u64)
                ));
                for d in &r.damaged_kept {
                    out.warn(&format!(
                        "pack {d} is damaged and was kept; run `mbxa vault verify`"
                    ));
                }
            }
            Ok(Outcome::Ok)
        }
    }
}

fn add(
    vault: &Path,
    archives: &[PathBuf],
    pack_size: u64,
    out: &Output,
) -> anyhow::Result<Outcome> {
    let v = mbxa_vault::Vault::create(vault)?.with_pack_target(pack_size);
    let p = Bytes::new(out, "vault add".into());
    let res = v.add(archives, &|_, pr| p.update(pr.done, pr.total));
    p.finish();
    let res = res?;
    let mut json = AddJson {
        added: Vec::new(),
        failed: Vec::new(),
    };
    for (path, r) in res {
        match r {
            Ok(a) => {
                if !out.is_json() {
                    if a.already_stored {
                        out.line(&format!(
                            "{}  {}  already in the vault",
                            &mbxa_vault::hex(&a.archive_id)[..12],
                            path.display()
                        ));
                    } else {
                        out.line(&format!(
                            "{}  {}  {} -> {} new ({} new chunks{})",
                            &mbxa_vault::hex(&a.archive_id)[..12],
                            path.display(),
                            human(a.file_len),
                            human(a.stats.new_stored_bytes),
                            a.stats.new_chunks,
                            if a.stats.frames_verbatim > 0 {
                                format!(", {} frames verbatim", a.stats.frames_verbatim)
                            } else {
                                String::new()
                            }
                        ));
                    }
                }
                json.added.push(AddedJson {
                    path,
                    archive_id: mbxa_vault::hex(&a.archive_id),
                    already_stored: a.already_stored,
                    file_len: a.file_len,
                    new_chunks: a.stats.new_chunks,
                    new_stored_bytes: a.stats.new_stored_bytes,
                    frames: a.stats.frames,
                    frames_verbatim: a.stats.frames_verbatim,
                });
            }
            Err(e) => {
                out.error(&format!("{}: not added: {e}", path.display()));
                json.failed.push(FailedJson {
                    path,
                    error: e.to_string(),
                });
            }
        }
    }
    if out.is_json() {
        out.json(&json)?;
    }
    if json.failed.is_empty() {
        Ok(Outcome::Ok)
    } else if json.added.is_empty() {
        anyhow::bail!("no archive could be added")
    } else {
        Ok(Outcome::Problems)
    }
}

fn ls(vault: &Path, out: &Output) -> anyhow::Result<Outcome> {
    let v = mbxa_vault::Vault::open(vault)?;
    let l = v.list()?;
    if out.is_json() {
        out.json(&l)?;
        return Ok(Outcome::Ok);
    }
    out.line(&format!(
        "{:<12}  {:<32}  {:<20}  {:>7}  {:>10}  {:>10}",
        "ID", "SOURCE", "CAPTURED", "ITEMS", "SIZE", "ALONE"
    ));
    for a in &l.archives {
        let source = format!("{} ({})", a.summary.user, a.summary.kind);
        out.line(&format!(
            "{:<12}  {:<32}  {:<20}  {:>7}  {:>10}  {:>10}",
            &a.id[..12],
            source,
            a.summary.started_at,
            a.summary.items,
            human(a.file_len),
            human(a.stored_alone)
        ));
    }
    let logical: u64 = l.archives.iter().map(|a| a.file_len).sum();
    out.line(&format!(
        "{} archives ({}) stored in {} packs, {} ({} chunks)",
        l.archives.len(),
        human(logical),
        l.packs,
        human(l.pack_bytes + l.record_bytes),
        l.chunks
    ));
    for u in &l.unreadable {
        out.warn(&format!("unreadable: {u}"));
    }
    Ok(Outcome::Ok)
}
