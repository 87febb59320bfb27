//! external (and external-perl): `checkcommand VIP VPORT RIP RPORT`, exit 0 = up. Run through
//! `sh -c` so a command with arguments works as in 4.12; killed when the check times out.

use std::process::Stdio;

use crate::director::farm::CheckSpec;

pub async fn run(spec: &CheckSpec) -> Result<String, String> {
    let Some((cmd, vip, vport)) = &spec.key.checkcommand else { return Err("no checkcommand".into()) };
    let line = format!("{cmd} {vip} {vport} {} {}", spec.key.addr, spec.key.port);
    let mut child = tokio::process::Command::new("/bin/sh")
        .arg("-c")
        .arg(&line)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot run {cmd}: {e}"))?;
    let pid = child.id();
    // Dropped by the timeout: the whole process group goes, not only the shell.
    let guard = KillGroup(pid);
    let status = child.wait().await.map_err(|e| format!("{cmd}: {e}"))?;
    std::mem::forget(guard);
    match status.code() {
        Some(0) => Ok(format!("{cmd} exited 0")),
        Some(c) => Err(format!("{cmd} exited {c}")),
        None => Err(format!("{cmd} killed by a signal")),
    }
}

struct KillGroup(Option<u32>);

impl Drop for KillGroup {
    fn drop(&mut self) {
        if let Some(pid) = self.0.and_then(|p| i32::try_from(p).ok()) {
            let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
        }
    }
}
