//! Accepted connections: plaintext or TLS, each with a deadline for its
//! first bytes (a client that opens a TCP connection and sends nothing — no
//! HTTP/2 preface, no TLS hello — is closed after the handshake timeout
//! instead of holding a socket for ever).

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;
use tonic::transport::server::Connected;

/// An IO whose first read must come within a deadline.
pub struct FirstBytesWithin<T> {
    inner: T,
    /// Armed until the first byte arrives.
    deadline: Option<Pin<Box<Sleep>>>,
}

impl<T> FirstBytesWithin<T> {
    pub fn new(inner: T, timeout: Duration) -> Self {
        Self {
            inner,
            deadline: (!timeout.is_zero()).then(|| Box::pin(tokio::time::sleep(timeout))),
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for FirstBytesWithin<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let read = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Some(deadline) = self.deadline.as_mut() {
            match &read {
                Poll::Ready(Ok(())) if buf.filled().len() > before => self.deadline = None,
                Poll::Pending if deadline.as_mut().poll(cx).is_ready() => {
                    return Poll::Ready(Err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "no bytes within the handshake timeout",
                    )));
                }
                _ => {}
            }
        }
        read
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for FirstBytesWithin<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

impl<T: Connected> Connected for FirstBytesWithin<T> {
    type ConnectInfo = T::ConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.inner.connect_info()
    }
}

/// An accepted connection, as the server reads it: what the gate learns of
/// its client ([`crate::tls::Peer`]) rides along to every request.
pub enum Connection {
    Plain(FirstBytesWithin<tokio::net::TcpStream>),
    Tls(
        Box<tokio_rustls::server::TlsStream<FirstBytesWithin<tokio::net::TcpStream>>>,
        crate::tls::Peer,
    ),
}

macro_rules! each_io {
    ($self:ident, $io:ident => $body:expr) => {
        match $self.get_mut() {
            Connection::Plain($io) => {
                let $io = Pin::new($io);
                $body
            }
            Connection::Tls($io, _) => {
                let $io = Pin::new($io.as_mut());
                $body
            }
        }
    };
}

impl AsyncRead for Connection {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        each_io!(self, io => io.poll_read(cx, buf))
    }
}

impl AsyncWrite for Connection {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        each_io!(self, io => io.poll_write(cx, buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        each_io!(self, io => io.poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Connection::Plain(io) => io.is_write_vectored(),
            Connection::Tls(io, _) => io.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        each_io!(self, io => io.poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        each_io!(self, io => io.poll_shutdown(cx))
    }
}

impl Connected for Connection {
    type ConnectInfo = crate::tls::Peer;

    fn connect_info(&self) -> Self::ConnectInfo {
        match self {
            Connection::Plain(_) => crate::tls::Peer::Plain,
            Connection::Tls(_, peer) => peer.clone(),
        }
    }
}

/// The connections accepted on `listener`, with TCP_NODELAY (small
/// responses must not wait for the peer's delayed ACK), each handshaken
/// with `tls` when given — up to [`crate::tls::MAX_HANDSHAKES`] at once, so
/// one slow client delays no other. A failed handshake is dropped here.
pub fn accepted(
    listener: tokio::net::TcpListener,
    handshake: Duration,
    tls: Option<crate::tls::ServerTls>,
) -> impl futures::Stream<Item = std::io::Result<Connection>> {
    use futures::StreamExt;
    tonic::transport::server::TcpIncoming::from(listener)
        .with_nodelay(Some(true))
        .map(move |accepted| {
            let tls = tls.clone();
            async move {
                let stream = FirstBytesWithin::new(accepted?, handshake);
                let Some(tls) = tls else {
                    return Ok(Some(Connection::Plain(stream)));
                };
                match tls.accept(stream, handshake).await {
                    Ok((stream, peer)) => Ok(Some(Connection::Tls(Box::new(stream), peer))),
                    Err(err) => {
                        tracing::debug!(error = %err, "TLS handshake failed");
                        metrics::counter!("fiveledger_tls_handshake_failures_total").increment(1);
                        Ok(None)
                    }
                }
            }
        })
        .buffer_unordered(crate::tls::MAX_HANDSHAKES)
        .filter_map(|handshaken: std::io::Result<Option<Connection>>| {
            futures::future::ready(handshaken.transpose())
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn a_silent_peer_times_out_and_a_talking_one_does_not() {
        let (client, server) = tokio::io::duplex(64);
        let mut silent = FirstBytesWithin::new(server, Duration::from_millis(50));
        let mut buf = [0u8; 8];
        let err = silent.read(&mut buf).await.expect_err("nothing sent");
        assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
        drop(client);

        let (mut client, server) = tokio::io::duplex(64);
        let mut talking = FirstBytesWithin::new(server, Duration::from_millis(50));
        client.write_all(b"PRI").await.expect("write");
        assert_eq!(talking.read(&mut buf).await.expect("read"), 3);
        // Once it has spoken, quiet is no longer a fault.
        let quiet = tokio::time::timeout(Duration::from_millis(120), talking.read(&mut buf)).await;
        assert!(quiet.is_err(), "still waiting, not failed");
    }
}
