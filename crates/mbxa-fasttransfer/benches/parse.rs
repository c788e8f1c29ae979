//! Parse throughput (MB/s) on a mix of realistic exported items, and `.eml` conversion rate.
#![allow(missing_docs)] // criterion_group! generates undocumented items

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use mbxa_fasttransfer::{eml::to_eml, parse, summarize, MessageBuilder};

/// A deterministic mix: plain notes, HTML with an inline image, a 1 MiB attachment, a reply with
/// an embedded message.
fn mix() -> Vec<Vec<u8>> {
    let mut items = Vec::new();
    let para = "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor. ";
    for i in 0..40 {
        let b = MessageBuilder::new("IPM.Note")
            .subject(&format!("Status update #{i}"))
            .from("Ann Example", "ann@example.com")
            .to("Bob Example", "bob@example.com")
            .cc("Carol Example", "carol@example.com")
            .date_unix(1_700_000_000 + i * 3600)
            .internet_message_id(&format!("<status-{i}@example.com>"))
            .body_text(&para.repeat(20))
            .body_html(&format!(
                "<html><body><p>{}</p></body></html>",
                para.repeat(20)
            ));
        items.push(b.build());
    }
    for i in 0..8 {
        let b = MessageBuilder::new("IPM.Note")
            .subject(&format!("Newsletter {i}"))
            .from("News", "news@example.com")
            .to("Bob Example", "bob@example.com")
            .date_unix(1_700_000_000)
            .body_html("<html><body><img src=\"cid:banner@x\"><p>Hello</p></body></html>")
            .inline_image("banner.png", "image/png", "banner@x", &vec![0x42; 60_000]);
        items.push(b.build());
    }
    for i in 0..2 {
        let data: Vec<u8> = (0..1_048_576u32).map(|x| (x * 7 + i) as u8).collect();
        let b = MessageBuilder::new("IPM.Note")
            .subject("Big file")
            .from("Ann Example", "ann@example.com")
            .to("Bob Example", "bob@example.com")
            .date_unix(1_700_000_000)
            .body_text("attached")
            .attachment("big.bin", "application/octet-stream", &data);
        items.push(b.build());
    }
    let inner = MessageBuilder::new("IPM.Note")
        .subject("Original")
        .from("Zed", "zed@example.com")
        .to("Ann Example", "ann@example.com")
        .body_text(&para.repeat(10));
    for _ in 0..10 {
        items.push(
            MessageBuilder::new("IPM.Note")
                .subject("Fwd: Original")
                .from("Ann Example", "ann@example.com")
                .to("Bob Example", "bob@example.com")
                .body_text("fyi")
                .embedded_message("Original", inner.clone())
                .build(),
        );
    }
    items
}

fn bench(c: &mut Criterion) {
    let items = mix();
    let total: u64 = items.iter().map(|i| i.len() as u64).sum();
    let mut g = c.benchmark_group("fasttransfer");
    g.sample_size(20);
    g.throughput(Throughput::Bytes(total));
    g.bench_function(
        BenchmarkId::new("parse", format!("{} items", items.len())),
        |b| {
            b.iter(|| {
                for i in &items {
                    std::hint::black_box(parse(i).unwrap());
                }
            })
        },
    );
    g.bench_function(
        BenchmarkId::new("summarize", format!("{} items", items.len())),
        |b| {
            b.iter(|| {
                for i in &items {
                    std::hint::black_box(summarize(&i[..]));
                }
            })
        },
    );
    let parsed: Vec<_> = items.iter().map(|i| parse(i).unwrap()).collect();
    g.throughput(Throughput::Elements(parsed.len() as u64));
    g.bench_function(
        BenchmarkId::new("to_eml", format!("{} items", parsed.len())),
        |b| {
            b.iter(|| {
                for m in &parsed {
                    std::hint::black_box(to_eml(m).unwrap());
                }
            })
        },
    );
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
