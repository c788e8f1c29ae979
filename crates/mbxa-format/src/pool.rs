//! Parallel blob compression for the writer: worker threads compress whole blobs into frames,
//! and the writer emits them strictly in submission order, so output bytes do not depend on the
//! number of threads.

use std::collections::{BTreeMap, HashMap};
use std::sync::mpsc::{channel, sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crate::error::{Error, Result};
use crate::frame::Compressor;
use crate::id::BlobId;

struct Job {
    seq: u64,
    id: BlobId,
    data: Vec<u8>,
    /// `Some(len)`: `data` is already a (checked) frame of a `len`-byte blob, to pass through.
    frame_of: Option<u64>,
}

/// A compressed blob, ready to be written.
pub(crate) struct Done {
    seq: u64,
    pub(crate) id: BlobId,
    pub(crate) len: u64,
    pub(crate) frame: Result<Vec<u8>>,
}

pub(crate) struct Pool {
    jobs: Option<SyncSender<Job>>,
    done: Receiver<Done>,
    threads: Vec<JoinHandle<()>>,
    next_seq: u64,
    next_emit: u64,
    ready: BTreeMap<u64, Done>,
    /// Blobs submitted but not yet emitted, with their lengths.
    pub(crate) pending: HashMap<BlobId, u64>,
}

impl Pool {
    pub(crate) fn new(threads: usize) -> Result<Pool> {
        // A small queue bounds memory: at most 3 × threads blobs in flight.
        let (jtx, jrx) = sync_channel::<Job>(threads * 2);
        let jrx = Arc::new(Mutex::new(jrx));
        let (dtx, drx) = channel::<Done>();
        let mut handles = Vec::with_capacity(threads);
        for n in 0..threads {
            let jrx = Arc::clone(&jrx);
            let dtx = dtx.clone();
            let h = std::thread::Builder::new()
                .name(format!("mbxa-zstd-{n}"))
                .spawn(move || {
                    let mut comp: Option<Compressor> = None;
                    loop {
                        let job = match jrx.lock() {
                            Ok(rx) => rx.recv(),
                            Err(_) => break,
                        };
                        let Ok(job) = job else { break };
                        if let Some(len) = job.frame_of {
                            let done = Done {
                                seq: job.seq,
                                id: job.id,
                                len,
                                frame: Ok(job.data),
                            };
                            if dtx.send(done).is_err() {
                                break;
                            }
                            continue;
                        }
                        let frame = (|| {
                            if comp.is_none() {
                                comp = Some(Compressor::new()?);
                            }
                            let mut out = Vec::with_capacity(job.data.len() / 2 + 64);
                            if let Some(c) = comp.as_mut() {
                                c.compress_slice(&job.data, &mut out)?;
                            }
                            Ok(out)
                        })();
                        let done = Done {
                            seq: job.seq,
                            id: job.id,
                            len: job.data.len() as u64,
                            frame,
                        };
                        if dtx.send(done).is_err() {
                            break;
                        }
                    }
                })
                .map_err(Error::Io)?;
            handles.push(h);
        }
        Ok(Pool {
            jobs: Some(jtx),
            done: drx,
            threads: handles,
            next_seq: 0,
            next_emit: 0,
            ready: BTreeMap::new(),
            pending: HashMap::new(),
        })
    }

    /// Queues a blob (blocks while the queue is full).
    pub(crate) fn submit(&mut self, id: BlobId, data: Vec<u8>) -> Result<()> {
        let len = data.len() as u64;
        self.send(id, len, data, None)
    }

    /// Queues a checked ready-made frame of a `len`-byte blob, to be written in order.
    pub(crate) fn submit_frame(&mut self, id: BlobId, len: u64, frame: Vec<u8>) -> Result<()> {
        self.send(id, len, frame, Some(len))
    }

    fn send(&mut self, id: BlobId, len: u64, data: Vec<u8>, frame_of: Option<u64>) -> Result<()> {
        let stopped = || Error::Compress("compression worker stopped".into());
        let tx = self.jobs.as_ref().ok_or_else(stopped)?;
        self.pending.insert(id, len);
        tx.send(Job {
            seq: self.next_seq,
            id,
            data,
            frame_of,
        })
        .map_err(|_| stopped())?;
        self.next_seq += 1;
        Ok(())
    }

    /// The next blob in submission order: waits for it if `block`, else only if already done.
    pub(crate) fn next(&mut self, block: bool) -> Result<Option<Done>> {
        loop {
            if self.next_emit == self.next_seq {
                return Ok(None);
            }
            if let Some(d) = self.ready.remove(&self.next_emit) {
                self.next_emit += 1;
                self.pending.remove(&d.id);
                return Ok(Some(d));
            }
            let d = if block {
                self.done
                    .recv()
                    .map_err(|_| Error::Compress("compression worker stopped".into()))?
            } else {
                match self.done.try_recv() {
                    Ok(d) => d,
                    Err(_) => return Ok(None),
                }
            };
            self.ready.insert(d.seq, d);
        }
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        // Closing the job channel ends the workers.
        self.jobs = None;
        for h in self.threads.drain(..) {
            let _ = h.join();
        }
    }
}
