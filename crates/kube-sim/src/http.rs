//! The HTTP front end (REST API over HTTP/1.1 on 127.0.0.1).

use std::sync::Arc;

use crate::control::Control;
use crate::store::Store;

/// Serve the API on `listener` until the runtime stops.
pub async fn serve(listener: tokio::net::TcpListener, store: Arc<Store>, control: Control) {
    let _ = (store, control);
    loop {
        let Ok((_stream, _)) = listener.accept().await else {
            continue;
        };
    }
}
