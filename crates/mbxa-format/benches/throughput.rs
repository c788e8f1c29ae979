//! Write and read throughput of `.mbxa` (MB/s of blob bytes) on a mail-like blob mix, the
//! writer's memory per blob and the manifest's memory per item, and a `tar | zstd -3 -T2`
//! baseline on the same blobs written as files.
//!
//! `MBXA_BENCH_BLOBS=N` sets the blob count (default 10 000; 1 000 with `--quick`).
//! `MBXA_BENCH_NO_TAR=1` skips the tar baseline.

use std::io::Write;
use std::time::Instant;

use criterion::{criterion_main, Criterion, Throughput};
use mbxa_format::*;

/// A pool of mail-like bytes: alternating text (compressible) and binary (attachments) regions.
fn pool() -> Vec<u8> {
    let mut v = Vec::with_capacity(8 << 20);
    let mut x: u64 = 0x1234_5678_9abc_def1;
    let words: [&[u8]; 10] = [
        b"Hello team, ",
        b"please find ",
        b"the attached ",
        b"invoice ",
        b"for November. ",
        b"Regards,\r\n",
        b"Re: project status ",
        b"meeting ",
        b"tomorrow at 10 ",
        b"<div style=\"font-family:Calibri\">",
    ];
    while v.len() < 8 << 20 {
        let binary = (v.len() / 65_536) % 3 == 2;
        for _ in 0..4096 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            if binary {
                v.extend_from_slice(&x.to_le_bytes());
            } else {
                v.extend_from_slice(words[(x % 10) as usize]);
            }
        }
    }
    v
}

/// Blob sizes: most 5–100 KB, 1 % between 1 and 4 MB.
fn sizes(n: usize) -> Vec<usize> {
    let mut x: u64 = 42;
    (0..n)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let r = (x >> 33) as usize;
            if r.is_multiple_of(100) {
                (1 << 20) + r % (3 << 20)
            } else {
                5_000 + r % 95_000
            }
        })
        .collect()
}

/// Fills `buf` with blob `i`: a slice of the pool, stamped with `i` so every blob is unique.
fn blob(pool: &[u8], i: usize, len: usize, buf: &mut Vec<u8>) {
    let start = (i * 7919) % (pool.len() - len);
    buf.clear();
    buf.extend_from_slice(&pool[start..start + len]);
    buf[..8].copy_from_slice(&(i as u64).to_le_bytes());
}

fn blob_count() -> usize {
    if let Some(n) = std::env::var("MBXA_BENCH_BLOBS")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        return n;
    }
    if std::env::args().any(|a| a == "--quick") {
        1_000
    } else {
        10_000
    }
}

fn manifest(items: Vec<Item>) -> Manifest {
    Manifest {
        source: Source {
            tenant_id: "t".into(),
            user: "u@example.com".into(),
            mailbox_id: "m".into(),
            kind: MailboxKind::Primary,
        },
        capture: CaptureInfo {
            tool_version: "bench".into(),
            started_at: "2026-11-27T12:00:00Z".into(),
            finished_at: "2026-11-27T12:00:00Z".into(),
            base_archive: None,
            folders_delta_link: None,
            item_delta_links: vec![],
        },
        folders: vec![],
        items,
    }
}

/// An item with Graph-sized ids (Graph item ids are ~150 characters of base64).
fn item(i: usize, id: BlobId, len: u64) -> Item {
    Item {
        id: format!("AAMkAGI2TG93AAA{i:0>135}"),
        folder_id: format!("AAMkAGI2TG93AAAFolder{:0>128}", i % 20),
        change_key: format!("CQAAABYAAAD{i:0>29}"),
        created: "2026-11-01T08:00:00Z".into(),
        last_modified: "2026-11-02T09:30:00Z".into(),
        size: len + 1234,
        message_class: "IPM.Note".into(),
        content: ItemContent::Blob { id, len },
    }
}

fn write_archive(pool: &[u8], sizes: &[usize], threads: usize, out: impl Write) -> (u64, Manifest) {
    let mut w = ArchiveWriter::new(out).unwrap();
    w.set_threads(threads).unwrap();
    let mut buf = Vec::new();
    let mut items = Vec::with_capacity(sizes.len());
    let mut total = 0u64;
    for (i, &len) in sizes.iter().enumerate() {
        blob(pool, i, len, &mut buf);
        let id = w.add_blob(&buf).unwrap();
        items.push(item(i, id, len as u64));
        total += len as u64;
    }
    let m = manifest(items);
    w.finish(&m).unwrap();
    (total, m)
}

/// Rough heap + inline bytes of a manifest item.
fn item_bytes(i: &Item) -> usize {
    std::mem::size_of::<Item>()
        + i.id.capacity()
        + i.folder_id.capacity()
        + i.change_key.capacity()
        + i.created.capacity()
        + i.last_modified.capacity()
        + i.message_class.capacity()
}

fn tar_baseline(pool: &[u8], sizes: &[usize], total: u64) {
    if std::env::var_os("MBXA_BENCH_NO_TAR").is_some() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let blobs = dir.path().join("blobs");
    std::fs::create_dir(&blobs).unwrap();
    let mut buf = Vec::new();
    for (i, &len) in sizes.iter().enumerate() {
        blob(pool, i, len, &mut buf);
        std::fs::write(blobs.join(format!("{i:06}")), &buf).unwrap();
    }
    // Warm the page cache once, then alternate tar|zstd and the mbxa writer so both see the
    // same machine load (this box is shared); report the best of 3 rounds of each.
    let cmd = format!(
        "tar cf - -C '{}' blobs | zstd -3 -T2 -q > /dev/null",
        dir.path().display()
    );
    let mut best = [f64::MAX; 3];
    for round in 0..4 {
        let t = Instant::now();
        let st = std::process::Command::new("sh")
            .arg("-c")
            .arg(&cmd)
            .status()
            .unwrap();
        assert!(st.success(), "{cmd} failed");
        let tar_secs = t.elapsed().as_secs_f64();
        if round == 0 {
            continue;
        }
        best[0] = best[0].min(tar_secs);
        for (k, threads) in [1usize, 2].into_iter().enumerate() {
            let t = Instant::now();
            write_archive(pool, sizes, threads, std::io::sink());
            best[k + 1] = best[k + 1].min(t.elapsed().as_secs_f64());
        }
    }
    let mbs = |secs: f64| total as f64 / secs / 1e6;
    eprintln!(
        "head-to-head, best of 3 ({} blobs, {:.0} MB): `tar cf - | zstd -3 -T2` {:.0} MB/s; mbxa writer 1 thread {:.0} MB/s, 2 threads {:.0} MB/s",
        sizes.len(),
        total as f64 / 1e6,
        mbs(best[0]),
        mbs(best[1]),
        mbs(best[2])
    );
}

fn bench(c: &mut Criterion) {
    let pool = pool();
    let sizes = sizes(blob_count());
    let total: u64 = sizes.iter().map(|&s| s as u64).sum();

    // Memory figures (printed once).
    let (_, m) = write_archive(&pool, &sizes[..sizes.len().min(1000)], 1, std::io::sink());
    let per_item = m.items.iter().map(item_bytes).sum::<usize>() / m.items.len().max(1);
    eprintln!(
        "manifest memory: ~{per_item} B/item in memory (Graph-sized ids); writer index: {} B/blob + hash-map overhead",
        std::mem::size_of::<BlobId>() + 3 * 8
    );
    tar_baseline(&pool, &sizes, total);

    let mut g = c.benchmark_group("mbxa-format");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(total));
    for threads in [1, 2] {
        g.bench_function(
            format!("write {} blobs, {threads} thread(s)", sizes.len()),
            |b| b.iter(|| write_archive(&pool, &sizes, threads, std::io::sink())),
        );
    }

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bench.mbxa");
    write_archive(
        &pool,
        &sizes,
        2,
        std::io::BufWriter::new(std::fs::File::create(&path).unwrap()),
    );
    eprintln!(
        "archive: {:.0} MB of blobs stored in {:.0} MB",
        total as f64 / 1e6,
        std::fs::metadata(&path).unwrap().len() as f64 / 1e6
    );
    g.bench_function(
        format!("read {} blobs by id (file order)", sizes.len()),
        |b| {
            b.iter(|| {
                let mut r = ArchiveReader::open_path(&path).unwrap();
                let mut n = 0u64;
                for e in r.entries_in_file_order() {
                    n += r.read_blob(&e.id).unwrap().len() as u64;
                }
                assert_eq!(n, total);
            })
        },
    );
    g.bench_function(format!("verify_all {} blobs", sizes.len()), |b| {
        b.iter(|| {
            ArchiveReader::open_path(&path)
                .unwrap()
                .verify_all(&mut |_| {})
                .unwrap()
        })
    });
    g.finish();
}

// The macro generates an undocumented pub fn.
#[allow(missing_docs)]
mod group {
    criterion::criterion_group!(benches, super::bench);
}
criterion_main!(group::benches);
