//! Vault round trips over evolving synthetic mailboxes, damage reporting, forget + prune.

use std::path::{Path, PathBuf};

use mbxa_vault::synth::Mailbox;
use mbxa_vault::{hex, ProblemKind, Vault};

fn no_progress(_: &Path, _: &mbxa_vault::Progress) {}

/// Writes `n` captures of an evolving mailbox; consecutive ones share most items, some items
/// are re-exported with a few bytes changed.
fn captures(dir: &Path, seed: u64, n: usize, items: usize) -> Vec<PathBuf> {
    let mut m = Mailbox::new(seed, items, 6, 60_000);
    m.mean_text = 6_000;
    let mut out = Vec::new();
    for i in 0..n {
        if i > 0 {
            m.evolve(items / 10, items / 20, items / 20);
            m.reexport(10);
        }
        let p = dir.join(format!("cap{seed}-{i}.mbxa"));
        m.write_archive(&p).unwrap();
        out.push(p);
    }
    out
}

fn export_all_identical(v: &Vault, archives: &[PathBuf], out_dir: &Path) {
    for a in archives {
        let id = mbxa_format::ArchiveReader::open_path(a)
            .unwrap()
            .archive_id();
        let out = out_dir.join(format!("{}.mbxa", id.to_hex()));
        let got = v.export(&id.to_hex(), &out).unwrap();
        assert_eq!(got, id.0);
        assert_eq!(
            std::fs::read(&out).unwrap(),
            std::fs::read(a).unwrap(),
            "{} differs",
            a.display()
        );
    }
}

#[test]
fn round_trip_dedupe_forget_prune() {
    let d = tempfile::tempdir().unwrap();
    let archives = captures(d.path(), 1, 4, 80);
    let vdir = d.path().join("vault");
    let v = Vault::create(&vdir).unwrap().with_pack_target(200_000);
    let res = v.add(&archives, &no_progress).unwrap();
    assert_eq!(res.len(), 4);
    for (_, r) in &res {
        let r = r.as_ref().unwrap();
        assert!(!r.already_stored);
        assert_eq!(r.stats.frames_verbatim, 0, "level-3 frames re-create");
    }
    // Later captures share most items: far fewer new chunks than the first.
    let first = res[0].1.as_ref().unwrap().stats.new_raw_bytes;
    let last = res[3].1.as_ref().unwrap().stats.new_raw_bytes;
    assert!(
        last * 3 < first,
        "capture 4 stored {last} new bytes vs {first} for capture 1"
    );

    let out = d.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    export_all_identical(&v, &archives, &out);

    let total: u64 = archives
        .iter()
        .map(|a| std::fs::metadata(a).unwrap().len())
        .sum();
    let listing = v.list().unwrap();
    assert_eq!(listing.archives.len(), 4);
    assert!(
        listing.pack_bytes + listing.record_bytes < total / 2,
        "{} of {total}",
        listing.pack_bytes
    );
    assert!(listing
        .archives
        .iter()
        .all(|a| a.summary.items > 0 && a.stored_alone > 0));
    // Ordered by capture time.
    assert!(listing
        .archives
        .windows(2)
        .all(|w| w[0].summary.started_at <= w[1].summary.started_at));

    // Adding again is a no-op.
    let again = v.add(&archives[..1], &no_progress).unwrap();
    assert!(again[0].1.as_ref().unwrap().already_stored);

    for full in [false, true] {
        let report = v.verify_with(full, &|_| {}).unwrap();
        assert!(report.problems.is_empty(), "{:?}", report.problems);
        assert_eq!(report.archives_ok, 4);
    }

    // The dedupe report agrees with what the vault stored, roughly.
    let dd = mbxa_vault::dedupe(&archives, &no_progress).unwrap();
    assert_eq!(dd.total_file_bytes, total);
    assert!(dd.unique_blobs < dd.blobs);
    let stored = listing.pack_bytes + listing.record_bytes;
    assert!(
        dd.vault_bytes * 10 >= stored * 9 && dd.vault_bytes * 10 <= stored * 11,
        "{} vs {stored}",
        dd.vault_bytes
    );

    // Forget the two oldest, prune: the rest still export identically, and space is freed.
    let ids: Vec<String> = listing.archives[..2]
        .iter()
        .map(|a| a.id[..12].to_string())
        .collect();
    let forgotten = v.forget(&ids).unwrap();
    assert_eq!(forgotten.len(), 2);
    let pr = v.prune().unwrap();
    assert!(pr.bytes_freed > 0, "{pr:?}");
    assert!(pr.packs_deleted + pr.packs_repacked > 0);
    let after = v.list().unwrap();
    assert_eq!(after.archives.len(), 2);
    assert!(after.pack_bytes < listing.pack_bytes);
    let kept: Vec<PathBuf> = archives
        .iter()
        .filter(|a| {
            let id = mbxa_format::ArchiveReader::open_path(a)
                .unwrap()
                .archive_id()
                .to_hex();
            after.archives.iter().any(|x| x.id == id)
        })
        .cloned()
        .collect();
    assert_eq!(kept.len(), 2);
    let out2 = d.path().join("out2");
    std::fs::create_dir_all(&out2).unwrap();
    export_all_identical(&v, &kept, &out2);
    let report = v.verify(&|_| {}).unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert!(report.unindexed_packs.is_empty());
    // A second prune has nothing left to do.
    let pr2 = v.prune().unwrap();
    assert_eq!(
        pr2.packs_deleted + pr2.packs_repacked + pr2.orphans_deleted,
        0,
        "{pr2:?}"
    );
}

#[test]
fn corrupted_pack_is_reported_with_affected_archives() {
    let d = tempfile::tempdir().unwrap();
    let archives = captures(d.path(), 2, 3, 40);
    let vdir = d.path().join("vault");
    let v = Vault::create(&vdir).unwrap().with_pack_target(100_000);
    v.add(&archives, &no_progress).unwrap();
    // Damage the middle of the largest pack.
    let mut packs: Vec<PathBuf> = walk(&vdir.join("packs"));
    packs.sort_by_key(|p| std::fs::metadata(p).unwrap().len());
    let victim = packs.last().unwrap().clone();
    let mut b = std::fs::read(&victim).unwrap();
    let at = b.len() / 2;
    b[at] ^= 0x55;
    std::fs::write(&victim, &b).unwrap();

    let report = v.verify(&|_| {}).unwrap();
    let victim_rel = victim.strip_prefix(&vdir).unwrap().display().to_string();
    let digest = report
        .problems
        .iter()
        .find(|p| p.kind == ProblemKind::PackDigest)
        .expect("pack digest problem");
    assert_eq!(digest.file, victim_rel);
    assert!(
        !digest.archives.is_empty(),
        "pack problem lists the archives it affects"
    );
    let damaged = report
        .problems
        .iter()
        .find(|p| p.kind == ProblemKind::ChunkDamaged)
        .expect("chunk problem");
    assert_eq!(damaged.file, victim_rel);
    assert!(!damaged.archives.is_empty(), "affected archives listed");
    assert!(report.archives_ok < 3);
    // Every affected archive fails to export (no wrong file appears); others still export.
    for a in &archives {
        let id = mbxa_format::ArchiveReader::open_path(a)
            .unwrap()
            .archive_id()
            .to_hex();
        let out = d.path().join(format!("{id}.out"));
        let r = v.export(&id, &out);
        if damaged.archives.contains(&id) {
            assert!(r.is_err());
            assert!(!out.exists());
        } else {
            r.unwrap();
            assert_eq!(std::fs::read(&out).unwrap(), std::fs::read(a).unwrap());
        }
    }
}

#[test]
fn verbatim_frames_round_trip_and_prefixes_resolve() {
    let d = tempfile::tempdir().unwrap();
    let archives = captures(d.path(), 3, 2, 20);
    let v = Vault::create(&d.path().join("v"))
        .unwrap()
        .with_verbatim_frames(true);
    let res = v.add(&archives, &no_progress).unwrap();
    let s = &res[0].1.as_ref().unwrap().stats;
    assert_eq!(s.frames_verbatim, s.frames);
    let out = d.path().join("o");
    std::fs::create_dir_all(&out).unwrap();
    export_all_identical(&v, &archives, &out);
    let ids: Vec<String> = v
        .list()
        .unwrap()
        .archives
        .iter()
        .map(|a| a.id.clone())
        .collect();
    // The shortest prefix telling the two apart resolves; the empty prefix does not.
    let n = (1..64).find(|&n| ids[0][..n] != ids[1][..n]).unwrap();
    assert_eq!(hex(&v.resolve(&ids[0][..n]).unwrap()), ids[0]);
    assert!(matches!(
        v.resolve(""),
        Err(mbxa_vault::Error::UnknownArchive(_))
    ));
    assert!(matches!(
        v.resolve("zz"),
        Err(mbxa_vault::Error::UnknownArchive(_))
    ));
    if ids[0][..1] == ids[1][..1] {
        assert!(matches!(
            v.resolve(&ids[0][..1]),
            Err(mbxa_vault::Error::AmbiguousArchive { .. })
        ));
    }
}

#[test]
fn damaged_archive_is_refused_and_vault_stays_valid() {
    let d = tempfile::tempdir().unwrap();
    let archives = captures(d.path(), 4, 2, 20);
    let bad = d.path().join("bad.mbxa");
    let mut b = std::fs::read(&archives[1]).unwrap();
    // Inside the first blob's frame (after the header entry + the blob's tar header).
    b[1024 + 512 + 40] ^= 1;
    std::fs::write(&bad, &b).unwrap();
    // Damage outside any blob: the second blob's tar header (mtime field).
    let bad_hdr = d.path().join("bad-header.mbxa");
    let e = mbxa_format::ArchiveReader::open_path(&archives[1])
        .unwrap()
        .entries_in_file_order()[1];
    let mut b = std::fs::read(&archives[1]).unwrap();
    b[(e.offset - 512 + 140) as usize] ^= 1;
    std::fs::write(&bad_hdr, &b).unwrap();
    let v = Vault::create(&d.path().join("v")).unwrap();
    let res = v
        .add(
            &[archives[0].clone(), bad.clone(), bad_hdr.clone()],
            &no_progress,
        )
        .unwrap();
    assert!(res[0].1.is_ok());
    assert!(res[1].1.is_err(), "damaged archive refused");
    assert!(
        matches!(&res[2].1, Err(mbxa_vault::Error::BadArchive { detail, .. }) if detail.contains("trailer"))
    );
    assert_eq!(v.list().unwrap().archives.len(), 1);
    assert!(v.verify(&|_| {}).unwrap().problems.is_empty());
}

#[test]
fn not_a_vault_is_refused() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("something"), b"x").unwrap();
    assert!(matches!(
        Vault::create(d.path()),
        Err(mbxa_vault::Error::NotAVault { .. })
    ));
    assert!(matches!(
        Vault::open(&d.path().join("missing")),
        Err(mbxa_vault::Error::NotAVault { .. })
    ));
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// Rewrites one record with `edit` applied, keeping it well-formed (magic, checksum).
fn rewrite_record(vdir: &Path, edit: impl Fn(&mut mbxa_vault::Record)) -> String {
    let path = walk(&vdir.join("archives"))
        .into_iter()
        .find(|p| p.extension().is_some_and(|e| e == "rec"))
        .expect("a record");
    let mut rec = mbxa_vault::Record::decode(&path, &std::fs::read(&path).unwrap()).unwrap();
    edit(&mut rec);
    std::fs::write(&path, rec.encode().unwrap()).unwrap();
    hex(&rec.archive_id)
}

/// Makes the first re-compressed frame's recipe wrong (another level): the frame no longer
/// re-creates although every stored byte is intact.
fn break_first_recipe(rec: &mut mbxa_vault::Record) {
    let f = rec
        .frames
        .iter_mut()
        .find(|f| matches!(f.body, mbxa_vault::FrameBody::Recompressed { .. }))
        .expect("a re-compressed frame");
    if let mbxa_vault::FrameBody::Recompressed { recipe, .. } = &mut f.body {
        recipe.level = if recipe.level == 19 { 1 } else { 19 };
    }
}

#[test]
fn frames_are_recompressed_when_the_record_names_another_zstd() {
    let d = tempfile::tempdir().unwrap();
    let archives = captures(d.path(), 5, 1, 20);
    let vdir = d.path().join("vault");
    let v = Vault::create(&vdir).unwrap();
    v.add(&archives, &no_progress).unwrap();
    assert!(v.verify(&|_| {}).unwrap().problems.is_empty());

    // Made by another zstd: the default verify cannot rely on add's proof and re-creates frames.
    let id = rewrite_record(&vdir, |r| {
        r.summary.zstd_version = "0.0.1".into();
        break_first_recipe(r);
    });
    let report = v.verify(&|_| {}).unwrap();
    let p = report
        .problems
        .iter()
        .find(|p| p.kind == ProblemKind::NotReproducible)
        .expect("the frame that no longer re-creates is reported");
    assert_eq!(p.archives, vec![id.clone()]);
    assert_eq!(report.archives_ok, 0);

    // Same damage under the linked zstd: only `--full`, which re-creates the archive, sees it
    // (the default trusts what `add` proved with this very library).
    let linked = rewrite_record(&vdir, |r| {
        r.summary.zstd_version = zstd::zstd_safe::version_string().to_string();
    });
    assert_eq!(linked, id);
    let full = v.verify_with(true, &|_| {}).unwrap();
    assert!(full
        .problems
        .iter()
        .any(|p| p.kind == ProblemKind::NotReproducible && p.archives == vec![id.clone()]));
    assert!(v.export(&id, &d.path().join("out.mbxa")).is_err());
}

#[test]
fn a_record_whose_frame_lengths_disagree_with_its_chunks_is_reported() {
    let d = tempfile::tempdir().unwrap();
    let archives = captures(d.path(), 6, 1, 20);
    let vdir = d.path().join("vault");
    let v = Vault::create(&vdir).unwrap();
    v.add(&archives, &no_progress).unwrap();
    let id = rewrite_record(&vdir, |r| {
        let f = r
            .frames
            .iter_mut()
            .find(|f| matches!(f.body, mbxa_vault::FrameBody::Recompressed { .. }))
            .expect("a re-compressed frame");
        f.blob_len += 1;
    });
    let report = v.verify(&|_| {}).unwrap();
    assert!(report
        .problems
        .iter()
        .any(|p| p.kind == ProblemKind::NotReproducible && p.archives == vec![id.clone()]));
    assert_eq!(report.archives_ok, 0);
}
