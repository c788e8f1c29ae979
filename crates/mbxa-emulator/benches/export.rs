//! How fast the emulator serves `exportItems` (no latency, no limits): items/s and MB/s of
//! decoded item bytes, for 20-item batches and for single-item calls, over real HTTP.

use std::time::Duration;

use base64::Engine;
use criterion::{criterion_main, Criterion, Throughput};
use mbxa_emulator::{Emulator, EmulatorConfig, Limits};
use serde_json::{json, Value};

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let mut cfg = EmulatorConfig::generated(42, 1, 400);
    cfg.limits = Limits::off();
    let emu = rt.block_on(Emulator::start(cfg)).expect("emulator");
    let t = emu.tenants()[0].clone();
    let mbx = t.users[0].primary_mailbox_id.clone();
    let snap = emu.mailbox_snapshot(&mbx);
    let client = reqwest::Client::new();
    let token: String = rt.block_on(async {
        let v: Value = client
            .post(format!(
                "{}/{}/oauth2/v2.0/token",
                emu.login_url(),
                t.tenant_id
            ))
            .form(&[
                ("client_id", t.client_id.as_str()),
                ("client_secret", t.client_secret.as_str()),
                ("scope", "https://graph.microsoft.com/.default"),
                ("grant_type", "client_credentials"),
            ])
            .send()
            .await
            .expect("token")
            .json()
            .await
            .expect("token json");
        v["access_token"].as_str().unwrap_or_default().to_string()
    });
    let url = format!(
        "{}/admin/exchange/mailboxes/{mbx}/exportItems",
        emu.graph_url()
    );
    let batches: Vec<Vec<String>> = snap
        .items
        .chunks(20)
        .filter(|c| c.len() == 20)
        .map(|c| c.iter().map(|i| i.id.clone()).collect())
        .collect();
    let batch_bytes: Vec<u64> = snap
        .items
        .chunks(20)
        .filter(|c| c.len() == 20)
        .map(|c| c.iter().map(|i| i.data.len() as u64).sum())
        .collect();
    let avg_batch = batch_bytes.iter().sum::<u64>() / batch_bytes.len().max(1) as u64;

    let export = |ids: &[String]| {
        let body = json!({ "itemIds": ids });
        rt.block_on(async {
            let v: Value = client
                .post(&url)
                .bearer_auth(&token)
                .json(&body)
                .send()
                .await
                .expect("export")
                .json()
                .await
                .expect("export json");
            // Decode like a client would, so the figure is end to end.
            let mut n = 0;
            for e in v["value"].as_array().into_iter().flatten() {
                let d = base64::engine::general_purpose::STANDARD
                    .decode(e["data"].as_str().unwrap_or_default())
                    .expect("base64");
                n += d.len();
            }
            n
        })
    };

    let mut g = c.benchmark_group("exportItems");
    g.measurement_time(Duration::from_secs(8));
    g.throughput(Throughput::Bytes(avg_batch));
    let mut k = 0;
    g.bench_function("20 items per call (bytes)", |b| {
        b.iter(|| {
            k = (k + 1) % batches.len();
            export(&batches[k])
        })
    });
    g.throughput(Throughput::Elements(20));
    g.bench_function("20 items per call (items)", |b| {
        b.iter(|| {
            k = (k + 1) % batches.len();
            export(&batches[k])
        })
    });
    g.throughput(Throughput::Elements(1));
    let mut j = 0;
    g.bench_function("1 item per call (items)", |b| {
        b.iter(|| {
            j = (j + 1) % snap.items.len();
            export(std::slice::from_ref(&snap.items[j].id))
        })
    });
    g.finish();
    rt.block_on(emu.shutdown());
}

// criterion's macros generate undocumented items.
#[allow(missing_docs)]
mod harness {
    criterion::criterion_group!(benches, super::bench);
}
criterion_main!(harness::benches);
