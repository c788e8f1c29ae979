//! `mbxa emulator`: the local Graph emulator.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use mbxa_emulator::{Emulator, EmulatorConfig, Faults, Limits, SizeMix, TenantSpec};
use serde_json::json;

use crate::exit::Outcome;
use crate::output::Output;

/// Arguments of `mbxa emulator`.
#[derive(Debug, clap::Args)]
pub struct EmulatorArgs {
    /// Address to listen on (loopback unless you mean otherwise); port 0 picks a free one.
    #[arg(long, default_value = "127.0.0.1:8765")]
    pub listen: SocketAddr,
    /// Users (each with a primary and an archive mailbox) in the first tenant.
    #[arg(long, default_value_t = 1)]
    pub mailboxes: usize,
    /// Approximate items per primary mailbox (archives get about a third).
    #[arg(long, default_value_t = 200)]
    pub items: usize,
    /// Seed of the mailbox generator and the fault dice.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Added latency per Graph/import request, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Limits: `off`, or e.g. `concurrency=4,requests=10000/600,upload=150MB/300,retry-after=0.5`.
    /// Default: Microsoft's published Outlook limits.
    #[arg(long, value_name = "SPEC")]
    pub throttle: Option<String>,
    /// Faults, e.g. `throttle=0.05x3,error=0.02,drop=0.01,truncate=0.01,missing=0.1,vanish=0.01,
    /// archive,unstable,delta=410|sync` (see the mbxa-emulator docs).
    #[arg(long, value_name = "SPEC")]
    pub faults: Option<String>,
    /// State file: loaded if present (instead of generating), saved on exit and every few seconds.
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
    /// Extra empty tenants (one empty mailbox each), e.g. as replay targets.
    #[arg(long, default_value_t = 1)]
    pub empty_tenants: usize,
    /// Include rare items of 5 to 30 MB.
    #[arg(long)]
    pub big_items: bool,
    /// PEM certificate to register for client assertions (`--client-cert` on the client side).
    #[arg(long, value_name = "PEM")]
    pub cert: Vec<PathBuf>,
}

/// Runs `mbxa emulator`.
pub fn emulator(args: EmulatorArgs, out: &Output) -> anyhow::Result<Outcome> {
    let mut cfg = EmulatorConfig::generated(args.seed, args.mailboxes, args.items);
    for i in 0..args.empty_tenants {
        cfg.tenants
            .push(TenantSpec::generated(args.seed, i + 1, 1, 0));
    }
    for path in &args.cert {
        let pem = std::fs::read_to_string(path)
            .with_context(|| format!("reading certificate {}", path.display()))?;
        cfg.tenants[0].certificates.push(pem);
    }
    cfg.listen = Some(args.listen);
    cfg.latency = Duration::from_millis(args.latency_ms);
    cfg.state_file = args.state.clone();
    if args.big_items {
        cfg.size_mix = SizeMix::Big;
    }
    if let Some(t) = &args.throttle {
        cfg.limits = t.parse::<Limits>().context("--throttle")?;
    }
    if let Some(f) = &args.faults {
        cfg.faults = f.parse::<Faults>().context("--faults")?;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(async {
        out.info("generating mailboxes…");
        let emu = Emulator::start(cfg)
            .await
            .context("starting the emulator")?;
        print_connection(&emu, out)?;
        tokio::signal::ctrl_c()
            .await
            .context("waiting for Ctrl-C")?;
        let stats = emu.stats();
        emu.shutdown().await;
        out.info(&format!(
            "stopped: {} requests, {} throttled, {} items exported, {} imported",
            stats.requests,
            stats.all_429s(),
            stats.exports.values().sum::<u64>(),
            stats.imports
        ));
        Ok(Outcome::Ok)
    })
}

fn print_connection(emu: &Emulator, out: &Output) -> anyhow::Result<()> {
    let tenants = emu.tenants();
    let Some(first) = tenants.first() else {
        anyhow::bail!("the emulator has no tenant");
    };
    if out.is_json() {
        return out.json(&json!({
            "graph_url": emu.graph_url(),
            "login_url": emu.login_url(),
            "admin_url": format!("{}/_emulator", emu.base_url()),
            "tenants": tenants,
        }));
    }
    out.line(&format!(
        "mbxa emulator listening on {} (Ctrl-C to stop)",
        emu.base_url()
    ));
    out.line("");
    out.line("Point mbxa at it with these environment variables (fake credentials, local only):");
    out.line(&format!("  export MBXA_GRAPH_URL={}", emu.graph_url()));
    out.line(&format!("  export MBXA_LOGIN_URL={}", emu.login_url()));
    out.line(&format!("  export MBXA_TENANT_ID={}", first.tenant_id));
    out.line(&format!("  export MBXA_CLIENT_ID={}", first.client_id));
    out.line(&format!(
        "  export MBXA_CLIENT_SECRET='{}'",
        first.client_secret
    ));
    out.line("or with flags:");
    out.line(&format!(
        "  --graph-url {} --login-url {} --tenant {} --client-id {} --client-secret-file FILE",
        emu.graph_url(),
        emu.login_url(),
        first.tenant_id,
        first.client_id
    ));
    out.line("  (FILE holds the client secret above)");
    for t in &tenants {
        out.line("");
        out.line(&format!(
            "tenant {} ({})  client id {}  secret {}",
            t.tenant_id, t.domain, t.client_id, t.client_secret
        ));
        for u in &t.users {
            out.line(&format!("  {}", u.upn));
            out.line(&format!("    primary mailbox  {}", u.primary_mailbox_id));
            if let Some(a) = &u.archive_mailbox_id {
                out.line(&format!("    archive mailbox  {a}"));
            }
        }
    }
    out.line("");
    if let Some(u) = first.users.first() {
        out.line(&format!("Try:  mbxa mailboxes --user {}", u.upn));
        out.line(&format!(
            "      mbxa capture --user {} -o mailbox.mbxa",
            u.upn
        ));
    }
    out.line(&format!("Inspect: curl {}/_emulator/stats", emu.base_url()));
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Wrap {
        #[command(flatten)]
        args: super::EmulatorArgs,
    }

    #[test]
    fn flags_parse_and_specs_are_checked() {
        let w = Wrap::parse_from([
            "x",
            "--listen",
            "127.0.0.1:0",
            "--mailboxes",
            "3",
            "--items",
            "500",
            "--latency-ms",
            "20",
            "--throttle",
            "concurrency=2",
            "--faults",
            "throttle=0.1x2,archive",
        ]);
        assert_eq!(w.args.mailboxes, 3);
        assert_eq!(w.args.items, 500);
        assert!(w
            .args
            .throttle
            .unwrap()
            .parse::<mbxa_emulator::Limits>()
            .is_ok());
        let f: mbxa_emulator::Faults = w.args.faults.unwrap().parse().unwrap();
        assert!(f.archive_redirects);
        let out = crate::output::Output::new(true, true, crate::output::ProgressMode::None);
        let bad = Wrap::parse_from(["x", "--faults", "nonsense"]);
        assert!(super::emulator(bad.args, &out).is_err());
    }
}
