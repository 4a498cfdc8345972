//! `redistill [CONFIG.toml] [flags]`: parse flags, load and validate the
//! configuration, and run the server. Exit code 1 on any startup error.

use clap::Parser;

#[cfg(feature = "jemalloc")]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;
use redistill::config::{Config, Flags};

fn init_logging(level: &str) {
    let level = match level {
        "debug" => tracing::Level::DEBUG,
        "verbose" => tracing::Level::DEBUG,
        "warning" => tracing::Level::WARN,
        _ => tracing::Level::INFO,
    };
    tracing_subscriber::fmt()
        .with_max_level(level)
        .with_target(false)
        .with_ansi(false)
        .init();
}

fn main() {
    let flags = Flags::parse();
    let config = match Config::load(flags, std::env::var("REDIS_PASSWORD").ok()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("redistill: configuration error: {e}");
            std::process::exit(1);
        }
    };
    init_logging(&config.loglevel);
    // Calibrate the TSC clock used for command timing now, not on the first command.
    let _ = quanta::Instant::now();
    // A file-size limit (ulimit -f) must fail a snapshot write with EFBIG,
    // not kill the server.
    // SAFETY: setting a signal's disposition to SIG_IGN has no preconditions.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
    // One worker: a single-threaded scheduler (no work stealing, no
    // cross-thread wakeups). More: the work-stealing one.
    let workers = redistill::config::worker_threads(config.threads);
    let mut builder = if workers == 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(workers);
        b
    };
    let runtime = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("redistill: cannot start the runtime: {e}");
            std::process::exit(1);
        }
    };
    let result = runtime.block_on(redistill::server::run(config));
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    if let Err(e) = result {
        eprintln!("redistill: {e}");
        std::process::exit(1);
    }
}
