//! Verify throughput on a synthetic archive (criterion): `cargo bench -p mbxa-verify`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use mbxa_vault::synth::Mailbox;
use mbxa_verify::{verify_archive, Options};

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("bench.mbxa");
    let mut m = Mailbox::new(42, 600, 40, 200_000);
    m.mean_text = 20_000;
    m.write_archive(&path).expect("write archive");
    let len = std::fs::metadata(&path).expect("metadata").len();
    let mut g = c.benchmark_group("verify");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(len));
    g.bench_function("synthetic_archive", |b| {
        b.iter(|| {
            let r = verify_archive(&path, &Options::default(), &|_| {}).expect("verify");
            assert!(r.is_intact());
        })
    });
    g.finish();
}

mod group {
    #![allow(missing_docs)]
    use super::*;
    criterion_group!(benches, bench);
}

criterion_main!(group::benches);
