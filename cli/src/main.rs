//! The `rear-build` binary. In the rescue system it is also PID 1: the
//! kernel runs /init, a link to this binary.

fn main() {
    let argv0 = std::env::args_os().next().unwrap_or_default();
    let name = std::path::Path::new(&argv0)
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    if name == "init" || std::process::id() == 1 {
        rear_boot::init::run();
    }
    if name == "rear" {
        std::process::exit(rear_build::rearcmd::main());
    }
    std::process::exit(rear_build::commands::main());
}
