//! `redistill [CONFIG.toml] [--<parameter> <value>]...`: parse the command
//! line, load and check the configuration, and run the server. Exit code 1
//! on any startup error.

use std::sync::Arc;

use redistill::config::{self, Args, Settings, P};

#[cfg(feature = "jemalloc")]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's options, read before `main`:
/// - thread caches keep only objects up to 1 KB. Larger ones (index
///   tables, arena segments, big values) go straight back to the shared
///   arena, where any thread reuses them; cached per thread they stayed
///   allocated but unused, about 4 % of a freshly loaded dataset;
/// - a background thread returns freed pages to the system after about a
///   second (as Redis's `jemalloc-bg-thread yes` does, with a shorter
///   decay): segments that compaction frees otherwise stayed in RSS until
///   the next allocations, and an idle server held them indefinitely.
///
/// (`_RJEM_MALLOC_CONF` in the environment still overrides this.)
#[cfg(feature = "jemalloc")]
#[allow(non_upper_case_globals)]
#[export_name = "_rjem_malloc_conf"]
pub static malloc_conf: Option<&'static std::ffi::c_char> =
    // SAFETY: the pointer comes from a static C string literal.
    Some(unsafe { &*c"tcache_max:1024,background_thread:true,dirty_decay_ms:1000".as_ptr() });

fn init_logging(level: &str) {
    let level = match level {
        "debug" | "verbose" => tracing::Level::DEBUG,
        "warning" => tracing::Level::WARN,
        _ => tracing::Level::INFO,
    };
    tracing_subscriber::fmt()
        .with_max_level(level)
        .with_target(false)
        .with_ansi(false)
        .init();
}

/// Stack size of the runtime's worker threads.
const WORKER_STACK_BYTES: usize = 16 << 20;

fn main() {
    let args = match Args::parse(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("redistill: {e} (see --help)");
            std::process::exit(1);
        }
    };
    if args.help {
        print!("{}", config::help_text());
        return;
    }
    if args.version {
        println!("redistill {}", env!("CARGO_PKG_VERSION"));
        return;
    }
    let settings = match Settings::load(&args, std::env::var("REDIS_PASSWORD").ok()) {
        Ok(s) => Arc::new(s),
        Err(e) => {
            eprintln!("redistill: configuration error: {e}");
            std::process::exit(1);
        }
    };
    init_logging(&settings.render(P::Loglevel));
    // Calibrate the TSC clock used for command timing now, not on the first command.
    let _ = quanta::Instant::now();
    // A file-size limit (ulimit -f) must fail a snapshot write with EFBIG,
    // not kill the server.
    // SAFETY: setting a signal's disposition to SIG_IGN has no preconditions.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
    // The work-stealing scheduler even with one worker (measured: no
    // slower than the single-threaded one on pipelined GET/SET), so a
    // script running past busy-reply-threshold can hand the worker to
    // another thread and other clients get BUSY instead of silence.
    let workers = config::worker_threads(settings.uint(P::Threads) as usize);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        // Scripts run on the workers: decoding or returning values nested
        // 1000 deep (the libraries' limit) needs more than the 2 MiB
        // default. Only the pages touched are ever committed.
        .thread_stack_size(WORKER_STACK_BYTES)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("redistill: cannot start the runtime: {e}");
            std::process::exit(1);
        }
    };
    let result = runtime.block_on(redistill::server::run(settings));
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    if let Err(e) = result {
        eprintln!("redistill: {e}");
        std::process::exit(1);
    }
}
