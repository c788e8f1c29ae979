//! The accept loop (our own, so a fault can drop a connection without answering) and the
//! shared runtime state every request sees.

use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tokio::net::TcpListener;
use tokio::sync::{watch, Notify};
use tokio::task::JoinSet;

use crate::config::{Faults, Limits};
use crate::limits::{Limiter, Stats};
use crate::model::{Clock, State};

/// Settings that may change at run time (faults via admin route or `set_faults`).
#[derive(Debug, Clone)]
pub(crate) struct Runtime {
    pub faults: Faults,
    pub limits: Limits,
    pub latency: Duration,
    pub token_lifetime: Duration,
    pub session_lifetime: Duration,
    pub delta_lifetime: Duration,
    pub list_recursive: bool,
    pub max_body: usize,
}

/// Everything a request handler touches.
pub(crate) struct Shared {
    pub state: Mutex<State>,
    pub rt: RwLock<Runtime>,
    pub limiter: Arc<Limiter>,
    pub stats: Mutex<Stats>,
    pub rng: Mutex<ChaCha8Rng>,
    pub clock: Clock,
    pub base_url: String,
    pub dirty: AtomicBool,
    pub state_file: Option<std::path::PathBuf>,
    pub request_counter: std::sync::atomic::AtomicU64,
}

impl Shared {
    pub(crate) fn new(
        state: State,
        rt: Runtime,
        seed: u64,
        base_url: String,
        state_file: Option<std::path::PathBuf>,
    ) -> Self {
        Shared {
            state: Mutex::new(state),
            rt: RwLock::new(rt),
            limiter: Arc::new(Limiter::default()),
            stats: Mutex::new(Stats::default()),
            rng: Mutex::new(ChaCha8Rng::seed_from_u64(seed ^ 0xfa17)),
            clock: Clock::default(),
            base_url,
            dirty: AtomicBool::new(false),
            state_file,
            request_counter: Default::default(),
        }
    }

    /// Locks the state; a poisoned lock (a panic elsewhere) still yields the data.
    pub(crate) fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn stats(&self) -> std::sync::MutexGuard<'_, Stats> {
        self.stats.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn rt(&self) -> Runtime {
        self.rt.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub(crate) fn mark_dirty(&self) {
        self.dirty.store(true, Ordering::Relaxed);
    }

    /// A roll of the seeded fault dice.
    pub(crate) fn roll(&self, p: f64) -> bool {
        if p <= 0.0 {
            return false;
        }
        use rand::Rng;
        self.rng
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .gen_bool(p.min(1.0))
    }

    pub(crate) fn count_fault(&self, kind: &str) {
        *self.stats().faults.entry(kind.to_string()).or_default() += 1;
    }
}

/// Accepts connections until `shutdown` flips, then aborts the open ones.
pub(crate) async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            r = listener.accept() => {
                let Ok((stream, _)) = r else {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let shared = Arc::clone(&shared);
                conns.spawn(async move {
                    let kill = Arc::new(Notify::new());
                    let k2 = Arc::clone(&kill);
                    let svc = hyper::service::service_fn(move |req| {
                        let shared = Arc::clone(&shared);
                        let kill = Arc::clone(&k2);
                        async move { Ok::<_, Infallible>(crate::http::handle(shared, req, kill).await) }
                    });
                    let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                    let conn = builder.serve_connection(TokioIo::new(stream), svc);
                    tokio::select! {
                        _ = conn => {}
                        // A "drop" fault: close the socket without writing a response.
                        _ = kill.notified() => {}
                    }
                });
            }
            _ = shutdown.changed() => break,
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    conns.abort_all();
}
