//! The listener: hyper connections with the limits a server facing untrusted clients needs,
//! which `axum::serve` does not set (it runs hyper without a timer, so no header timeout fires).
//!
//! - A connection that has not sent a complete request head within
//!   [`HttpLimits::header_read_timeout`] is closed (hyper's header timer), and a connection on
//!   which no request started and none is in flight for that long is closed by a watchdog
//!   (hyper's timer does not start before the first byte): slowloris heads dribbled byte by
//!   byte, silent connections and idle keep-alive connections all free their slot.
//! - A request body that stalls for [`HttpLimits::body_timeout`] is answered 408.
//! - A request that takes longer than [`HttpLimits::request_timeout`] in all is answered 503.
//! - At most [`HttpLimits::max_connections`] connections are open at once; further ones wait in
//!   the kernel's accept queue until a slot frees up (the timeouts above bound how long a slot
//!   can be held by a client that sends nothing useful).
//!
//! Only HTTP/1.1 is served: TLS (and HTTP/2 with it) ends in the proxy in front of the server.
//!
//! On shutdown the listener closes and open connections finish their requests (at most 10 s).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::Result;
use axum::Router;
use axum::http::{Request, StatusCode};
use hyper::body::Incoming;
use hyper::service::Service;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulConnection;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};

/// Connection and request limits (config `http:`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HttpLimits {
    /// Longest wait for a complete request head, including on an idle keep-alive connection.
    pub header_read_timeout: Duration,
    /// Longest stall while reading a request body.
    pub body_timeout: Duration,
    /// Longest time for a whole request, from head to answer.
    pub request_timeout: Duration,
    /// Open connections at most.
    pub max_connections: usize,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            request_timeout: Duration::from_secs(60),
            max_connections: 4096,
        }
    }
}

/// The per-request limits as tower layers around `app`.
pub(crate) fn with_request_limits(app: Router, limits: &HttpLimits) -> Router {
    app.layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
        limits.body_timeout,
    ))
    .layer(tower_http::timeout::TimeoutLayer::with_status_code(
        StatusCode::SERVICE_UNAVAILABLE,
        limits.request_timeout,
    ))
}

/// What a connection is doing, for its watchdog: requests in flight, and requests started.
#[derive(Debug, Default)]
struct Activity {
    in_flight: AtomicUsize,
    started: AtomicU64,
}

/// The router as a hyper service that tells the watchdog when requests start and end.
#[derive(Clone)]
struct Watched {
    inner: TowerToHyperService<Router>,
    activity: Arc<Activity>,
}

type Answer = <TowerToHyperService<Router> as Service<Request<Incoming>>>::Response;
type Failure = <TowerToHyperService<Router> as Service<Request<Incoming>>>::Error;

impl Service<Request<Incoming>> for Watched {
    type Response = Answer;
    type Error = Failure;
    type Future = Pin<Box<dyn Future<Output = Result<Answer, Failure>> + Send>>;

    fn call(&self, request: Request<Incoming>) -> Self::Future {
        self.activity.in_flight.fetch_add(1, Ordering::SeqCst);
        self.activity.started.fetch_add(1, Ordering::SeqCst);
        let answer = self.inner.call(request);
        let activity = Arc::clone(&self.activity);
        Box::pin(async move {
            let answer = answer.await;
            activity.in_flight.fetch_sub(1, Ordering::SeqCst);
            answer
        })
    }
}

/// Serves `app` on `listener` until `shutdown` completes.
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    limits: HttpLimits,
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    // HTTP/1.1 only (cleartext; TLS ends in front of the server): version sniffing for h2c
    // would read the first bytes with no timer running.
    let mut http = Builder::new(TokioExecutor::new()).http1_only();
    http.http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    let http = Arc::new(http);
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let (stop, stopping) = watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = Arc::clone(&slots).acquire_owned() => slot?,
            () = &mut shutdown => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => stream,
                Err(e) => {
                    // Out of file descriptors and the like: pause rather than spin.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let activity = Arc::new(Activity::default());
        let service = Watched {
            inner: TowerToHyperService::new(app.clone()),
            activity: Arc::clone(&activity),
        };
        let http = Arc::clone(&http);
        let stopping = stopping.clone();
        tokio::spawn(async move {
            let connection = http.serve_connection_with_upgrades(TokioIo::new(stream), service);
            watch_connection(connection, &activity, &limits, stopping).await;
            drop(slot);
        });
    }
    drop(listener);
    let _ = stop.send(true);
    // Every connection hands its slot back when it ends.
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    if tokio::time::timeout(Duration::from_secs(10), slots.acquire_many(all))
        .await
        .is_err()
    {
        tracing::warn!("connections still open 10 s after shutdown began; closing them");
    }
    Ok(())
}

/// Runs one connection. hyper's header timeout does not cover a connection that has sent no
/// byte at all, so a watchdog closes (gracefully) a connection on which no request has started
/// and none is in flight for a whole header timeout: idle keep-alive connections, silent ones,
/// and heads dribbled too slowly. On shutdown, the request in flight finishes first.
async fn watch_connection<C>(
    connection: C,
    activity: &Activity,
    limits: &HttpLimits,
    mut stopping: watch::Receiver<bool>,
) where
    C: GracefulConnection,
    C::Error: std::fmt::Display,
{
    let mut connection = std::pin::pin!(connection);
    let idle = limits.header_read_timeout;
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + idle, idle);
    let mut seen = 0;
    let ending = loop {
        tokio::select! {
            ended = connection.as_mut() => {
                if let Err(e) = ended {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                return;
            }
            _ = tick.tick() => {
                let started = activity.started.load(Ordering::SeqCst);
                if started == seen && activity.in_flight.load(Ordering::SeqCst) == 0 {
                    // A response still being written to a slow reader may finish (hyper's
                    // graceful shutdown closes a silent connection at once, and its header
                    // timer closes a dribbled head).
                    break limits.request_timeout;
                }
                seen = started;
            }
            _ = stopping.wait_for(|stop| *stop) => break Duration::from_secs(10),
        }
    };
    connection.as_mut().graceful_shutdown();
    let _ = tokio::time::timeout(ending, connection).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    /// An idle connection and one dribbling its request head are both closed at the header
    /// timeout; a normal request is answered.
    #[tokio::test]
    async fn idle_and_slow_connections_are_closed() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let limits = HttpLimits {
            header_read_timeout: Duration::from_millis(500),
            ..HttpLimits::default()
        };
        let app = Router::new().route("/", axum::routing::get(|| async { "ok" }));
        tokio::spawn(serve(listener, app, limits, std::future::pending()));

        let mut ok = tokio::net::TcpStream::connect(addr).await.unwrap();
        ok.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut answer = String::new();
        ok.read_to_string(&mut answer).await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");

        let started = std::time::Instant::now();
        let mut idle = tokio::net::TcpStream::connect(addr).await.unwrap();
        let mut slow = tokio::net::TcpStream::connect(addr).await.unwrap();
        let dribble = tokio::spawn(async move {
            for b in b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaa" {
                if slow.write_all(&[*b]).await.is_err() {
                    return started.elapsed();
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            let mut buf = [0u8; 16];
            let _ = slow.read(&mut buf).await;
            started.elapsed()
        });
        let mut buf = [0u8; 16];
        let n = tokio::time::timeout(Duration::from_secs(5), idle.read(&mut buf))
            .await
            .expect("the idle connection is closed");
        assert_eq!(n.unwrap_or(0), 0);
        assert!(started.elapsed() < Duration::from_secs(2));
        let slow_closed = dribble.await.unwrap();
        assert!(slow_closed < Duration::from_secs(2), "{slow_closed:?}");
    }
}
