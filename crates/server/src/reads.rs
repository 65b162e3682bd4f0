//! The blocking read path: storage reads and proofs for anonymous readers run on tokio's blocking
//! threads, at most `max_concurrent_reads` at once. Beyond that, reads wait for a permit on the
//! async side (holding no thread), so a read storm cannot take every blocking thread, and the
//! storage work it causes stays bounded. Reads never sign: entries carry their stored SET, and
//! tree heads are signed once per tree size.

use crate::AppState;
use crate::error::ApiError;

/// Runs `f` on a blocking thread once one of the read permits is free.
pub(crate) async fn blocking_read<T: Send + 'static>(
    state: &AppState,
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let _permit = state
        .reads
        .acquire()
        .await
        .map_err(|e| ApiError::internal("the read limiter is closed", &e))?;
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::internal("blocking read task failed", &e))?
}
