//! A small HTTP/1.1 server on 127.0.0.1 with its own thread and tokio runtime, shared by
//! the proxy and the token server. Stopping it (or dropping it) ends every connection.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::thread::JoinHandle;

use bytes::Bytes;
use http_body_util::BodyExt;
use http_body_util::combinators::BoxBody;
use hyper::body::{Body as HttpBody, Frame, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::sync::{mpsc, oneshot};

/// Boxed error of a body.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// The response body type of every handler.
pub(crate) type Body = BoxBody<Bytes, BoxError>;
/// A boxed future answering one request.
pub(crate) type Reply = Pin<Box<dyn Future<Output = Response<Body>> + Send>>;
/// A request handler.
pub(crate) type Handler = Arc<dyn Fn(Request<Incoming>) -> Reply + Send + Sync>;

/// A body of fixed bytes.
pub(crate) fn full(bytes: impl Into<Bytes>) -> Body {
    http_body_util::Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed()
}

/// A body fed through a channel by a task (for paced, cut or generated bodies).
pub(crate) struct ChannelBody {
    rx: mpsc::Receiver<Result<Frame<Bytes>, BoxError>>,
}

impl ChannelBody {
    /// A body and the sender that feeds it.
    pub(crate) fn channel() -> (mpsc::Sender<Result<Frame<Bytes>, BoxError>>, Body) {
        let (tx, rx) = mpsc::channel(4);
        (tx, ChannelBody { rx }.boxed())
    }
}

impl HttpBody for ChannelBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.rx.poll_recv(cx)
    }
}

/// A running server. Dropping it stops it.
pub(crate) struct BackgroundServer {
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl BackgroundServer {
    /// Binds 127.0.0.1 on a free port and serves `handler` on a new thread.
    pub(crate) fn start(name: &str, handler: Handler) -> BackgroundServer {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap_or_else(|e| panic!("{name}: cannot bind 127.0.0.1:0: {e}"));
        listener
            .set_nonblocking(true)
            .expect("a bound socket can be made non-blocking");
        let addr = listener
            .local_addr()
            .expect("a bound socket has an address");
        let (tx, rx) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(format!("testkit-{name}"))
            .spawn(move || serve(listener, handler, rx))
            .unwrap_or_else(|e| panic!("{name}: cannot spawn its thread: {e}"));
        BackgroundServer {
            addr,
            shutdown: Some(tx),
            thread: Some(thread),
        }
    }

    /// The address it listens on.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, ends every open connection and joins the thread.
    pub(crate) fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for BackgroundServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn serve(listener: std::net::TcpListener, handler: Handler, mut stop: oneshot::Receiver<()>) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime for a testkit server");
    rt.block_on(async move {
        let listener =
            tokio::net::TcpListener::from_std(listener).expect("register the listener with tokio");
        loop {
            tokio::select! {
                _ = &mut stop => break,
                accepted = listener.accept() => {
                    let Ok((stream, _)) = accepted else { continue };
                    let _ = stream.set_nodelay(true);
                    let handler = handler.clone();
                    tokio::spawn(async move {
                        let svc = service_fn(move |req| {
                            let reply = handler(req);
                            async move { Ok::<_, Infallible>(reply.await) }
                        });
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), svc)
                            .await;
                    });
                }
            }
        }
    });
    // Dropping the runtime here cancels every connection task, closing their sockets.
    drop(rt);
}

/// Locks `m`, taking the data even if a panicking test poisoned it.
pub(crate) fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A Sigstore service's error answer: `status` and `{"code": status, "message": …}`.
pub(crate) fn json_error(status: hyper::StatusCode, message: &str) -> Response<Body> {
    let doc = serde_json::json!({"code": status.as_u16(), "message": message});
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(full(doc.to_string()))
        .expect("a valid response")
}

/// The refusal a test can make a fixture answer with (a service that is down, or that
/// refuses this client): every request it covers gets the status and message set.
#[derive(Default)]
pub(crate) struct Refusal(std::sync::Mutex<Option<(hyper::StatusCode, String)>>);

impl Refusal {
    /// From now on refuse with `status` and `message`; `None` accepts again.
    pub(crate) fn set(&self, refusal: Option<(u16, &str)>) {
        *lock(&self.0) = refusal.map(|(status, message)| {
            (
                hyper::StatusCode::from_u16(status).expect("an HTTP status"),
                message.to_owned(),
            )
        });
    }

    /// The error answer to give now, if refusing.
    pub(crate) fn answer(&self) -> Option<Response<Body>> {
        lock(&self.0)
            .as_ref()
            .map(|(status, message)| json_error(*status, message))
    }
}
