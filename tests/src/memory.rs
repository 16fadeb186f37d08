//! A process's memory as Linux reports it, for the benches that measure the server's
//! and the agent's.

use std::io;

/// The resident memory of process `pid` and its peak (`VmRSS`, `VmHWM`), in MiB.
pub fn memory_mib(pid: u32) -> io::Result<(f64, f64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let mib = |name: &str| -> io::Result<f64> {
        let kib = status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .ok_or_else(|| io::Error::other(format!("no {name} in /proc/{pid}/status")))?;
        Ok(kib / 1024.0)
    };
    Ok((mib("VmRSS:")?, mib("VmHWM:")?))
}

#[cfg(test)]
mod tests {
    #[test]
    fn this_process_has_a_resident_size_within_its_peak() {
        let (rss, peak) = super::memory_mib(std::process::id()).unwrap();
        assert!(rss > 0.0 && rss <= peak, "{rss} {peak}");
    }
}
