//! What every long-running verb shares: the async runtime, logs on stderr, stopping
//! on Ctrl-C or SIGTERM, and the system clock.

use anyhow::Context as _;

/// Runs `work` on a fresh async runtime (the admin verbs are short-lived).
pub(crate) fn block_on<T>(
    work: impl std::future::Future<Output = anyhow::Result<T>>,
) -> anyhow::Result<T> {
    tokio::runtime::Runtime::new()
        .context("starting the async runtime")?
        .block_on(work)
}

/// Logs to stderr at INFO (stdout is for what a command prints as its result).
pub(crate) fn init_logs() {
    init_logs_at(tracing::Level::INFO);
}

/// Logs to stderr from `level` up (a fleet of meters logs too much at INFO).
pub(crate) fn init_logs_at(level: tracing::Level) {
    tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

/// Logs at info level appended to `file`, for when the terminal shows a screen instead.
pub(crate) fn init_logs_to(file: std::fs::File) {
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_writer(std::sync::Mutex::new(file))
        .with_ansi(false)
        .init();
}

/// Resolves on Ctrl-C or SIGTERM.
pub(crate) async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(_) => {
                    let _ = interrupt.await;
                    return;
                }
            };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}

/// The system clock's time now, Unix ms: the command line is the shell that reads it and
/// hands it to the code it calls.
pub(crate) fn now_ms() -> i64 {
    joule_clock::Clock::now_ms(&joule_clock::SystemClock)
}
