//! `latch-registry-broker [ADDR]`: starts test registries on request for tests that run
//! under Wine (see the testkit's `registry::broker`). Listens on ADDR (default
//! `127.0.0.1:0`), prints the address it listens on as its first line, and serves until
//! killed.

#[cfg(unix)]
fn main() {
    use std::io::Write;
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".to_owned());
    let listener = match std::net::TcpListener::bind(&addr) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("latch-registry-broker: cannot listen on {addr}: {e}");
            std::process::exit(1);
        }
    };
    match listener.local_addr() {
        Ok(a) => println!("{a}"),
        Err(e) => {
            eprintln!("latch-registry-broker: {e}");
            std::process::exit(1);
        }
    }
    let _ = std::io::stdout().flush();
    latch_testkit::serve_broker(listener);
}

#[cfg(not(unix))]
fn main() {
    eprintln!("latch-registry-broker runs on the Linux side, for tests under Wine");
    std::process::exit(2);
}
