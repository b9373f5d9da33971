//! Ending a gRPC call when its status is known: in the response headers
//! for a trailers-only answer (a refusal), otherwise in the trailers after
//! the body (a stream may still fail late).

use std::task::{Context, Poll};

use futures::future::BoxFuture;
use tonic::Code;
use tracing::Instrument;

/// What is done once a call's status is known.
pub trait CallEnd {
    fn end(self, code: Code, message: &str);
}

/// Watches `response` for its status: ends `call` now when the headers
/// hold it, or when the trailers pass (`Unknown` if the body fails or ends
/// without them, `Canceled` if it is dropped before).
pub fn watch<R, C: CallEnd>(
    response: http::Response<R>,
    call: C,
) -> http::Response<StatusBody<R, C>> {
    let call = match tonic::Status::from_header_map(response.headers()) {
        Some(status) => {
            call.end(status.code(), status.message());
            None
        }
        None => Some(call),
    };
    response.map(|inner| StatusBody { inner, call })
}

/// How one side (serving, or calling another service) starts a call: its
/// span and what ends it.
pub trait CallStart: Clone {
    type Call: CallEnd + Send + Unpin + 'static;
    fn start<B>(&self, request: &mut http::Request<B>) -> (Self::Call, tracing::Span);
}

/// A service whose every call is started by `K` and ended by its status.
#[derive(Clone)]
pub struct Watched<S, K> {
    inner: S,
    start: K,
}

impl<S, K> Watched<S, K> {
    pub fn new(inner: S, start: K) -> Self {
        Self { inner, start }
    }
}

type Answer<R, C, E> = Result<http::Response<StatusBody<R, C>>, E>;

impl<S, K, B, R> tower::Service<http::Request<B>> for Watched<S, K>
where
    S: tower::Service<http::Request<B>, Response = http::Response<R>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: std::fmt::Display,
    K: CallStart,
    B: Send + 'static,
    R: http_body::Body + Unpin,
{
    type Response = http::Response<StatusBody<R, K::Call>>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Answer<R, K::Call, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    /// Calls the inner service (the clone that was polled ready) in the
    /// call's span, so an interceptor injecting the trace context injects
    /// this span's, and watches the response for the call's status. A call
    /// that fails before any answer ends `UNAVAILABLE`.
    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        let (call, span) = self.start.start(&mut request);
        let clone = self.inner.clone();
        let mut ready = std::mem::replace(&mut self.inner, clone);
        let future = span.in_scope(|| ready.call(request));
        Box::pin(
            async move {
                match future.await {
                    Ok(response) => Ok(watch(response, call)),
                    Err(err) => {
                        call.end(Code::Unavailable, &err.to_string());
                        Err(err)
                    }
                }
            }
            .instrument(span),
        )
    }
}

/// A response body that ends its call when the trailers pass.
pub struct StatusBody<B, C: CallEnd> {
    inner: B,
    call: Option<C>,
}

impl<B: http_body::Body + Unpin, C: CallEnd + Unpin> http_body::Body for StatusBody<B, C> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let polled = std::pin::Pin::new(&mut self.inner).poll_frame(cx);
        let status = match &polled {
            Poll::Ready(Some(Ok(frame))) => frame.trailers_ref().map(|t| {
                tonic::Status::from_header_map(t)
                    .unwrap_or_else(|| tonic::Status::unknown("no grpc-status in the trailers"))
            }),
            Poll::Ready(Some(Err(_))) => Some(tonic::Status::unknown("the response body failed")),
            Poll::Ready(None) => Some(tonic::Status::unknown("the body ended without a status")),
            Poll::Pending => None,
        };
        if let Some(status) = status
            && let Some(call) = self.call.take()
        {
            call.end(status.code(), status.message());
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

impl<B, C: CallEnd> Drop for StatusBody<B, C> {
    fn drop(&mut self) {
        if let Some(call) = self.call.take() {
            call.end(Code::Cancelled, "the call was dropped before its status");
        }
    }
}
