//! Progress on a terminal, plain lines otherwise, and the log level.

use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

pub struct Progress {
    bar: Option<ProgressBar>,
    stage: Option<(String, Instant)>,
    started: Instant,
}

impl Progress {
    pub fn new() -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let b = ProgressBar::new_spinner();
            b.set_style(
                ProgressStyle::with_template("{spinner} {msg} {elapsed}").expect("valid template"),
            );
            b.enable_steady_tick(tick(&stderr_device()));
            b
        });
        Progress {
            bar,
            stage: None,
            started: Instant::now(),
        }
    }

    /// Starts a stage; the previous one is reported done with its time.
    pub fn stage(&mut self, msg: &str) {
        self.finish_stage();
        match &self.bar {
            Some(b) => b.set_message(msg.to_string()),
            None => eprintln!("rear-build: {msg} ..."),
        }
        self.stage = Some((msg.to_string(), Instant::now()));
    }

    fn finish_stage(&mut self) {
        if let Some((msg, t)) = self.stage.take() {
            let line = format!(
                "rear-build: {msg}: done in {:.2} s",
                t.elapsed().as_secs_f64()
            );
            match &self.bar {
                Some(b) => b.println(line),
                None if console_enabled(log::Level::Info) => eprintln!("{line}"),
                None => {}
            }
        }
    }

    /// Prints a line without disturbing the spinner.
    pub fn println(&self, line: &str) {
        match &self.bar {
            Some(b) => b.println(line),
            None => eprintln!("{line}"),
        }
    }

    pub fn finish(mut self) -> Duration {
        self.finish_stage();
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
        self.started.elapsed()
    }
}

/// The device stderr is, e.g. `/dev/pts/3` or `/dev/ttyS0`.
fn stderr_device() -> PathBuf {
    std::fs::read_link("/proc/self/fd/2").unwrap_or_default()
}

/// How often the spinner redraws on `device`: smoothly on a pseudo-terminal
/// or virtual console; every few seconds on anything else, which is a
/// serial line (IPMI serial-over-LAN, a VM's console) where each redraw
/// costs bandwidth and fills console logs.
fn tick(device: &Path) -> Duration {
    let name = device.to_string_lossy();
    let vt = name
        .strip_prefix("/dev/tty")
        .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()));
    if vt || name.starts_with("/dev/pts/") {
        Duration::from_millis(100)
    } else {
        Duration::from_secs(5)
    }
}

impl rear_builder::Progress for Progress {
    fn stage(&mut self, what: &str) {
        Progress::stage(self, what)
    }
    fn note(&mut self, line: &str) {
        self.println(line)
    }
}

impl Default for Progress {
    fn default() -> Self {
        Progress::new()
    }
}

/// Console lines by the chosen level; with a log file, everything down to
/// debug (each external command and its outcome) goes there too.
struct Logger {
    console: log::LevelFilter,
    file: Mutex<Option<(PathBuf, std::fs::File)>>,
    started: Instant,
}

static LOGGER: OnceLock<Logger> = OnceLock::new();

fn logger() -> Option<&'static Logger> {
    LOGGER.get()
}

impl Logger {
    fn to_file(&self, level: &str, msg: &str) {
        if let Ok(mut g) = self.file.lock() {
            if let Some((_, f)) = g.as_mut() {
                let t = self.started.elapsed().as_secs_f64();
                for line in msg.lines() {
                    let _ = writeln!(f, "{t:9.3} {level:5} {line}");
                }
            }
        }
    }
}

impl log::Log for Logger {
    fn enabled(&self, m: &log::Metadata) -> bool {
        m.level() <= log::max_level()
    }
    fn log(&self, r: &log::Record) {
        if !self.enabled(r.metadata()) {
            return;
        }
        let msg = r.args().to_string();
        self.to_file(r.level().as_str(), &msg);
        if r.level() <= self.console {
            let level = match r.level() {
                log::Level::Error => "error: ",
                log::Level::Warn => "warning: ",
                _ => "",
            };
            eprintln!("rear-build: {level}{msg}");
        }
    }
    fn flush(&self) {
        if let Ok(mut g) = self.file.lock() {
            if let Some((_, f)) = g.as_mut() {
                let _ = f.flush();
            }
        }
    }
}

/// Whether the console shows messages of `level` (the file may get more).
pub fn console_enabled(level: log::Level) -> bool {
    logger().is_some_and(|l| level <= l.console)
}

/// Warnings always; `-v` info; `-d` debug (every external command); `-D` trace.
pub fn init_log(verbose: u8, debug: bool, trace: bool) {
    let console = if trace {
        log::LevelFilter::Trace
    } else if debug || verbose >= 2 {
        log::LevelFilter::Debug
    } else if verbose == 1 {
        log::LevelFilter::Info
    } else {
        log::LevelFilter::Warn
    };
    let l = LOGGER.get_or_init(|| Logger {
        console,
        file: Mutex::new(None),
        started: Instant::now(),
    });
    let _ = log::set_logger(l);
    log::set_max_level(console.max(log::LevelFilter::Debug));
}

/// Starts the log file of this run at `path` (replacing the last run's),
/// headed by the command line. A log that cannot be written is a warning,
/// not a failure: the work itself does not depend on it.
pub fn log_to_file(path: &Path) {
    let Some(l) = logger() else { return };
    let open = || -> std::io::Result<std::fs::File> {
        if let Some(d) = path.parent() {
            std::fs::create_dir_all(d)?;
        }
        std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .mode(0o600)
            .open(path)
            // `mode` applies only to a new file: an old log may be 0644.
            .and_then(|f| {
                use std::os::unix::fs::PermissionsExt;
                f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
                Ok(f)
            })
    };
    match open() {
        Ok(mut f) => {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            let argv: Vec<String> = std::env::args().collect();
            let _ = writeln!(
                f,
                "# rear-build {} log, started at unix time {now}\n# {}",
                env!("CARGO_PKG_VERSION"),
                rear_exec::redact(&rear_exec::quote_argv(&argv), &[])
            );
            if let Ok(mut g) = l.file.lock() {
                *g = Some((path.to_path_buf(), f));
            }
        }
        Err(e) => log::warn!("cannot write the log {}: {e}", path.display()),
    }
}

/// The log file of this run, if one is written.
pub fn log_path() -> Option<PathBuf> {
    let l = logger()?;
    let g = l.file.lock().ok()?;
    g.as_ref().map(|(p, _)| p.clone())
}

/// A line for the log file only (what the console shows another way).
pub fn file_only(level: &str, msg: &str) {
    if let Some(l) = logger() {
        l.to_file(level, msg);
    }
}

/// A line for the operator: on stderr, and in the log file.
pub fn say(msg: &str) {
    eprintln!("rear-build: {msg}");
    if let Some(l) = logger() {
        l.to_file("INFO", msg);
    }
}

/// `say!` with format arguments.
#[macro_export]
macro_rules! say {
    ($($t:tt)*) => { $crate::ui::say(&format!($($t)*)) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serial_lines_redraw_slowly() {
        let fast = Duration::from_millis(100);
        for d in ["/dev/pts/3", "/dev/tty1", "/dev/tty12"] {
            assert_eq!(tick(Path::new(d)), fast, "{d}");
        }
        for d in [
            "/dev/ttyS0",
            "/dev/ttyAMA0",
            "/dev/hvc0",
            "/dev/ttyUSB1",
            "/dev/console",
            "/dev/tty",
        ] {
            assert!(tick(Path::new(d)) > fast, "{d}");
        }
    }
}
