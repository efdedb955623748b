//! Resumable change streams (tier changes, alert changes): read a change log after a cursor in
//! batches on the blocking pool, send what the caller keeps, and when caught up wait for the
//! next notification (or look again every 2 s, in case a notification raced the read). The
//! stream ends when the watcher leaves, the log cannot be read (that error is sent first), or
//! the server shuts down.

use super::status::to_status;
use std::future::Future;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Status;

/// Changes read per batch.
const BATCH: usize = 1000;

/// Follows a change log from `cursor`: `read(after, limit)` returns the next changes with their
/// sequence numbers (the cursor), `keep(seq, change)` turns a change into a message or skips it.
pub fn follow<C, M>(
    mut cursor: u64,
    read: impl Fn(u64, usize) -> crate::Result<Vec<(u64, C)>> + Clone + Send + 'static,
    mut notified: tokio::sync::watch::Receiver<u64>,
    closing: impl Future<Output = ()> + Send + 'static,
    mut keep: impl FnMut(u64, &C) -> Option<M> + Send + 'static,
) -> ReceiverStream<Result<M, Status>>
where
    C: Send + 'static,
    M: Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(256);
    tokio::spawn(async move {
        tokio::pin!(closing);
        loop {
            let r = read.clone();
            let batch = match tokio::task::spawn_blocking(move || r(cursor, BATCH)).await {
                Ok(Ok(b)) => b,
                Ok(Err(e)) => {
                    let _ = tx.send(Err(to_status(e))).await;
                    return;
                }
                Err(_) => return,
            };
            let empty = batch.is_empty();
            for (seq, ch) in batch {
                cursor = seq;
                if let Some(m) = keep(seq, &ch) {
                    if tx.send(Ok(m)).await.is_err() {
                        return; // the watcher left
                    }
                }
            }
            if empty {
                tokio::select! {
                    r = notified.changed() => if r.is_err() { return },
                    _ = tokio::time::sleep(std::time::Duration::from_secs(2)) => {}
                    _ = tx.closed() => return,
                    _ = &mut closing => return, // shutting down: end the stream cleanly
                }
            }
        }
    });
    ReceiverStream::new(rx)
}
