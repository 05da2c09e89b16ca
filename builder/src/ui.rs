//! Progress on a terminal, plain lines otherwise, and the log level.

use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
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
            b.enable_steady_tick(Duration::from_millis(100));
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
                None if log::log_enabled!(log::Level::Info) => eprintln!("{line}"),
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

impl Default for Progress {
    fn default() -> Self {
        Progress::new()
    }
}

struct Logger;

impl log::Log for Logger {
    fn enabled(&self, m: &log::Metadata) -> bool {
        m.level() <= log::max_level()
    }
    fn log(&self, r: &log::Record) {
        if self.enabled(r.metadata()) {
            let level = match r.level() {
                log::Level::Error => "error: ",
                log::Level::Warn => "warning: ",
                _ => "",
            };
            eprintln!("rear-build: {level}{}", r.args());
        }
    }
    fn flush(&self) {}
}

/// Warnings always; `-v` info; `-d` debug (every external command); `-D` trace.
pub fn init_log(verbose: u8, debug: bool, trace: bool) {
    let level = if trace {
        log::LevelFilter::Trace
    } else if debug || verbose >= 2 {
        log::LevelFilter::Debug
    } else if verbose == 1 {
        log::LevelFilter::Info
    } else {
        log::LevelFilter::Warn
    };
    let _ = log::set_logger(&Logger);
    log::set_max_level(level);
}
